"""Reading Asterisk configuration files with pyst2's parser (`asterisk.config`).

pyst2 parses `[section]` and `name = value` / `name => value` lines and comments, as Asterisk
does. Two things of Asterisk's format it does not know are handled here before its parser
sees the text: section options (`[phone](!)` marks a template, `[1001](phone)` inherits from
one) and `#include` directives (followed, relative to the including file). The installer uses
this to refuse a rendered configuration Asterisk would misread, and the tests to check what
asterisk-config/ declares (modules, AMI privileges, endpoints) instead of hand-parsing it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from asterisk import config as pyst_config  # pyst2

_SECTION_OPTIONS = re.compile(r"^\s*\[([^\]]+)\]\s*\(([^)]*)\)(.*)$")
_INCLUDE = re.compile(r"^\s*#(try)?include\s+\"?([^\"\s]+)\"?")


class ConfError(ValueError):
    """A configuration file Asterisk would misread; the message names file and line."""


@dataclass(frozen=True, slots=True)
class Entry:
    name: str
    value: str
    line: int


@dataclass(slots=True)
class Section:
    name: str
    options: tuple[str, ...] = ()
    entries: list[Entry] = field(default_factory=list)

    @property
    def is_template(self) -> bool:
        return "!" in self.options

    def values(self, name: str) -> list[str]:
        """Every value of `name` in this section, in file order (`load`, `exten`, …)."""
        return [entry.value for entry in self.entries if entry.name == name]

    def get(self, name: str, default: str | None = None) -> str | None:
        found = self.values(name)
        return found[-1] if found else default


@dataclass(slots=True)
class ConfFile:
    path: Path
    sections: list[Section]
    includes: list[Path]

    def section(self, name: str) -> Section | None:
        """The first non-template section called `name`."""
        return next((s for s in self.sections if s.name == name and not s.is_template), None)

    def named(self, name: str) -> list[Section]:
        return [s for s in self.sections if s.name == name]


class _Parsed(pyst_config.Config):  # type: ignore[misc]
    """pyst2's parser over lines prepared here instead of a file it opens itself."""

    def __init__(self, path: Path, lines: list[str]) -> None:
        self._prepared = lines
        super().__init__(str(path))

    def load(self) -> None:
        self.raw_lines = self._prepared


def read_conf(path: Path, *, follow_includes: bool = True) -> ConfFile:
    """Parse one file (and, by default, what it `#include`s, appended in order)."""
    lines: list[str] = []
    options: dict[int, tuple[str, ...]] = {}
    includes: list[Path] = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        include = _INCLUDE.match(line)
        if include:
            included = path.parent / include[2]
            # Asterisk skips a missing `#tryinclude` (test instances add manager_observer.conf).
            if not include[1] or included.is_file():
                includes.append(included)
            lines.append(";")  # keep line numbers
            continue
        with_options = _SECTION_OPTIONS.match(line)
        if with_options:
            options[number] = tuple(o.strip() for o in with_options[2].split(",") if o.strip())
            line = f"[{with_options[1]}]{with_options[3]}"
        lines.append(line)
    try:
        parsed = _Parsed(path, lines)
    except pyst_config.ParseError as exc:
        number, message = exc.args[0], exc.args[1] if len(exc.args) > 1 else ""
        raise ConfError(f"{path}:{number}: {message}") from None
    sections = [
        Section(
            category.name.strip(),
            options.get(category.number, ()),
            [Entry(item.name, item.value.strip(), item.number) for item in category.items],
        )
        for category in parsed.categories
    ]
    conf = ConfFile(path, sections, includes)
    if follow_includes:
        for included in includes:
            conf.sections.extend(read_conf(included).sections)
    return conf


def check_directory(directory: Path) -> list[ConfFile]:
    """Parse every `.conf` in a rendered configuration directory and check what Asterisk
    would silently get wrong; raises `ConfError`."""
    parsed = [read_conf(path, follow_includes=False) for path in sorted(directory.glob("*.conf"))]
    for conf in parsed:
        for included in conf.includes:
            if not included.is_file():
                raise ConfError(f"{conf.path}: #include of missing {included.name}")
        if conf.path.name == "asterisk.conf":
            directories = conf.named("directories")
            if not directories or all(s.is_template for s in directories):
                # Asterisk ignores a template section: it would run on its default paths.
                raise ConfError(f"{conf.path}: no [directories] section (a `(!)` one is ignored)")
    return parsed
