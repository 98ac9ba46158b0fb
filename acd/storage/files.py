"""Files that hold caller data (the SQLite database, the queue_log, the dead letters) are
the controller's alone: created 0600 in a directory created 0700; one found with looser
modes is tightened, and the change logged, when the controller opens it."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) 0700, or tighten it if it exists looser."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(path, DIR_MODE)
    return path


def private_file(path: str | Path) -> Path:
    """Create `path` empty 0600 if missing (its directory 0700 if missing), or tighten it."""
    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    tighten(path, FILE_MODE)
    return path


def open_private_append(path: str | Path) -> TextIO:
    """Open `path` to append text, created 0600 (tightened if it was looser)."""
    private_file(path)
    return open(path, "a", encoding="utf-8")


def tighten(path: Path, mode: int) -> bool:
    """Remove the permission bits beyond `mode`, if any (logged). False: no such file."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & ~mode:
        os.chmod(path, current & mode)
        log.warning(
            "%s was open to others (mode %04o): tightened to %04o",
            path,
            current,
            current & mode,
        )
    return True
