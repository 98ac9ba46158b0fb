"""Renders the asterisk-config/ templates into an instance's own configuration directory.

Every file in the template directory (except README.md) is copied with its `@NAME@`
placeholders replaced; asterisk-config/README.md lists them. An unknown placeholder, or a
rendered file Asterisk would misread (`acd.asterisk.conf.check_directory`), is an error rather
than a silently broken Asterisk configuration.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from acd.asterisk.conf import ConfError, check_directory

PLACEHOLDER = re.compile(r"@([A-Z][A-Z0-9_]*)@")
NOT_TEMPLATES = frozenset({"README.md"})


class TemplateError(ValueError):
    """A template names a placeholder nobody provides, or the template directory is missing."""


def default_template_dir() -> Path:
    """`asterisk-config/` of this checkout (or ACD_ASTERISK_CONFIG)."""
    override = os.environ.get("ACD_ASTERISK_CONFIG")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2] / "asterisk-config"


def render(text: str, values: Mapping[str, str], source: str = "<template>") -> str:
    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            line = text.count("\n", 0, match.start()) + 1
            known = ", ".join(f"@{key}@" for key in sorted(values))
            raise TemplateError(f"{source}:{line}: unknown placeholder @{name}@ (known: {known})")
        return values[name]

    return PLACEHOLDER.sub(substitute, text)


def render_directory(template_dir: Path, target: Path, values: Mapping[str, str]) -> list[Path]:
    """Render every template file into `target` (created); returns the written paths."""
    if not (template_dir / "asterisk.conf").is_file():
        raise TemplateError(f"{template_dir} holds no asterisk.conf: not an Asterisk config dir")
    target.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for source in sorted(template_dir.iterdir()):
        if not source.is_file() or source.name in NOT_TEMPLATES or source.name.startswith("."):
            continue
        destination = target / source.name
        destination.write_text(render(source.read_text(), values, str(source)))
        written.append(destination)
    try:
        check_directory(target)
    except ConfError as exc:
        raise TemplateError(str(exc)) from None
    return written
