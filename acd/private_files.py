"""Files only the controller's user may read: those holding caller data (the SQLite
database, the queue_log, the dead letters) and the per-instance secrets (`acd.asterisk`).
New ones are created 0600 in a directory created 0700, whatever the umask.

One found looser is tightened, and the change logged, only when it is this process's own: a
regular file or a directory owned by the process's user, a directory without the sticky bit.
Everything else is never changed (the controller may run as root, and /tmp or a link to
/etc/passwd is root's too): a world-writable directory it may not tighten (sticky as /tmp,
or another user's) is refused (`NotPrivateError`: anyone could plant files there, or without
the sticky bit replace them; `acd serve` exits 2 naming it), another user's directory or
file, a symbolic link and a file with other names (a hard link: /etc/passwd is root's) are
left as they are with a warning that they are not private.

Tightening takes what `forbidden` names: for caller data (`LOOSE`) others lose every
permission and the group its write (0644 becomes 0640, 0755 0750), so a group an operator chose
to let read the queue_log keeps reading it; for secrets (`SECRET_LOOSE`) the group loses all.
Files are appended with `errors="backslashreplace"`: a value the encoding cannot hold (a lone
surrogate) is written escaped instead of losing its line and the rest of its batch."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import stat
from pathlib import Path
from typing import TextIO

log = logging.getLogger(__name__)

FILE_MODE = 0o600
DIR_MODE = 0o700
#: What an existing file or directory of caller data may not keep: group write, all for others.
LOOSE = 0o027
#: What a secret (or its directory) may not keep: anything for the group or others.
SECRET_LOOSE = 0o077


class NotPrivateError(OSError):
    """A directory meant for private files that every user may write into."""


def private_dir(path: str | Path, forbidden: int = LOOSE) -> Path:
    """Create `path` (and missing parents) 0700, or tighten it if it is ours and looser;
    NotPrivateError if it is world-writable and not ours to tighten."""
    path = Path(path)
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    info = path.stat()
    current = stat.S_IMODE(info.st_mode)
    if _ours(info) and not current & stat.S_ISVTX:
        _tighten(path, current, forbidden)
        return path
    if current & stat.S_IWOTH:
        raise NotPrivateError(
            f"{path} (mode {current:04o}, owner uid {info.st_uid}) is writable by every user: "
            "anyone could plant the files meant to be private there, so it is not used and "
            "left as it is; point it at a directory of its own (e.g. [storage] var_dir)"
        )
    _warn_not_private(path, info, forbidden)
    return path


def private_file(path: str | Path, forbidden: int = LOOSE) -> Path:
    """Create `path` empty 0600 if missing (its directory 0700 if missing), or tighten it."""
    path = Path(path)
    if not path.parent.exists():
        path.parent.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    try:
        # O_NOFOLLOW: a dangling link must not create its target.
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE))
    except OSError as exc:
        if exc.errno != errno.ELOOP:
            raise
    tighten(path, forbidden)
    return path


def open_private_append(path: str | Path) -> TextIO:
    """Open `path` to append text, created 0600 (tightened if it was ours and looser)."""
    private_file(path)
    return open(path, "a", encoding="utf-8", errors="backslashreplace")


def write_private_once(path: Path, text: str) -> bool:
    """Create `path` holding `text`, 0600, unless it exists (False). Written whole to a draft
    and linked in: a reader never sees part of it, and of two writers at once the first's
    stays (the other's link fails, its draft is removed)."""
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.draft")
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
            return True
        return False
    finally:
        draft.unlink(missing_ok=True)


def tighten(path: Path, forbidden: int = LOOSE) -> bool:
    """Remove the `forbidden` bits from a regular file of ours with no other name, if set
    (logged); leave anything else as it is (warned). False: no such file."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(info.st_mode):
        log.warning(
            "%s is a symbolic link (to %s): not made private, its target left as it is",
            path,
            os.readlink(path),
        )
    elif _ours(info) and stat.S_ISREG(info.st_mode) and info.st_nlink == 1:
        _tighten(path, stat.S_IMODE(info.st_mode), forbidden)
    else:
        _warn_not_private(path, info, forbidden)
    return True


def _ours(info: os.stat_result) -> bool:
    return info.st_uid == os.geteuid()


def _tighten(path: Path, current: int, forbidden: int) -> None:
    if current & forbidden:
        os.chmod(path, current & ~forbidden)
        log.warning(
            "%s was open to others (mode %04o): tightened to %04o",
            path,
            current,
            current & ~forbidden,
        )


def _warn_not_private(path: Path, info: os.stat_result, forbidden: int) -> None:
    current = stat.S_IMODE(info.st_mode)
    if current & forbidden or not _ours(info):
        log.warning(
            "%s is not private to this process (mode %04o, owner uid %d, this process uid %d, "
            "%d name(s)): left as it is, not this process's to change",
            path,
            current,
            info.st_uid,
            os.geteuid(),
            info.st_nlink,
        )
