"""What the tests read from docker/: the Dockerfiles' instructions (COPY, RUN, FROM, …) and the
compose file, so the install tests replay the images' very steps instead of a copy of them."""

from __future__ import annotations

import json
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
DOCKER = REPO / "docker"
COMPOSE = DOCKER / "compose.yaml"
CONTROLLER_DOCKERFILE = DOCKER / "controller.Dockerfile"
ASTERISK_DOCKERFILE = DOCKER / "asterisk.Dockerfile"
DOCKERFILES = (CONTROLLER_DOCKERFILE, ASTERISK_DOCKERFILE)


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str  # upper case: FROM, COPY, RUN, …
    arguments: str
    line: int
    stage: int  # 0 for the first FROM's stage

    def words(self) -> list[str]:
        """Shell-split arguments, or the JSON array's items (exec form)."""
        if self.arguments.startswith("["):
            items: list[str] = json.loads(self.arguments)
            return items
        return shlex.split(self.arguments)


def instructions(path: Path) -> list[Instruction]:
    """Every instruction, continuation lines joined, comments dropped."""
    found: list[Instruction] = []
    pending = ""
    start = 0
    stage = -1
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        text = pending + line
        pending = ""
        keyword, _, arguments = text.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            stage += 1
        found.append(Instruction(keyword, arguments.strip(), start, max(stage, 0)))
    return found


def copies(path: Path, stage: int | None = None) -> list[tuple[list[str], PurePosixPath]]:
    """(sources, destination) of each COPY from the build context (not `--from=`)."""
    result: list[tuple[list[str], PurePosixPath]] = []
    for item in instructions(path):
        if item.keyword != "COPY" or (stage is not None and item.stage != stage):
            continue
        words = item.words()
        if any(word.startswith("--from") for word in words):
            continue
        words = [word for word in words if not word.startswith("--")]
        result.append((words[:-1], PurePosixPath(words[-1])))
    return result


def replay_copies(path: Path, stage: int | None, target_root: Path) -> list[Path]:
    """Do the stage's COPYs from the repository into `target_root` (as `/`), as Docker would:
    a directory's contents into the destination, several sources into a destination folder."""
    written: list[Path] = []
    for sources, destination in copies(path, stage):
        into_dir = len(sources) > 1 or str(destination).endswith("/")
        for source in sources:
            origin = REPO / source
            target = target_root / destination.relative_to("/")
            if into_dir:
                target = target / origin.name
            target.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, target, dirs_exist_ok=True)
            else:
                shutil.copy2(origin, target)
            written.append(target)
    return written


def runs(path: Path, stage: int | None = None) -> list[list[str]]:
    return [
        item.words()
        for item in instructions(path)
        if item.keyword == "RUN" and (stage is None or item.stage == stage)
    ]


def script_runs(path: Path) -> list[tuple[int, PurePosixPath, list[str]]]:
    """(stage, script path in the image, its arguments) of each `RUN sh <script> …`."""
    found: list[tuple[int, PurePosixPath, list[str]]] = []
    for item in instructions(path):
        if item.keyword != "RUN":
            continue
        words = item.words()
        if words[:1] == ["sh"] and len(words) >= 2:
            found.append((item.stage, PurePosixPath(words[1]), words[2:]))
    return found


def image_path_source(path: Path, inside: PurePosixPath) -> Path | None:
    """The repository file a COPY put at `inside` (None if no COPY did)."""
    for sources, destination in copies(path):
        into_dir = len(sources) > 1 or str(destination).endswith("/")
        for source in sources:
            placed = destination / Path(source).name if into_dir else destination
            if placed == inside:
                return REPO / source
            if (REPO / source).is_dir() and inside.is_relative_to(placed):
                return REPO / source / inside.relative_to(placed)
    return None


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data
