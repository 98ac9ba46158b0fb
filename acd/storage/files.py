"""Files that hold caller data (the SQLite database, the queue_log, the dead letters) are
the controller's alone: created 0600 in a directory created 0700, whatever the umask. One
found with looser modes is tightened when the controller opens it, and the change logged:
others lose every permission and the group its write (0644 becomes 0640, 0755 0750), so a
group an operator chose to let read the queue_log keeps reading it."""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
#: What an existing file or directory may not keep: group write, anything for others.
LOOSE = 0o027


def private_dir(path: str | Path) -> Path:
    """Create `path` (and missing parents) 0700, or tighten it if it exists looser."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    tighten(path)
    return path


def private_file(path: str | Path) -> Path:
    """Create `path` empty 0600 if missing (its directory 0700 if missing), or tighten it."""
    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, FILE_MODE))
    tighten(path)
    return path


def open_private_append(path: str | Path) -> TextIO:
    """Open `path` to append text, created 0600 (tightened if it was looser)."""
    private_file(path)
    return open(path, "a", encoding="utf-8")


def tighten(path: Path) -> bool:
    """Remove the `LOOSE` permission bits, if set (logged). False: no such file."""
    try:
        current = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return False
    if current & LOOSE:
        os.chmod(path, current & ~LOOSE)
        log.warning(
            "%s was open to others (mode %04o): tightened to %04o",
            path,
            current,
            current & ~LOOSE,
        )
    return True
