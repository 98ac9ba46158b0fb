"""Files holding caller data are the controller's alone (issue #11): the SQLite database and
its -wal/-shm files, the queue_log and the dead letters are created 0600 in a directory
created 0700, whatever the umask; one found looser is tightened at start, and logged (others
lose everything, the group its write: 0644 becomes 0640), but only if it is the process's own:
a shared world-writable directory is refused and kept as it is, another user's directory or
file, a symbolic or hard link left as they are with a warning."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from acd.observe.queue_log import QueueLog
from acd.storage import Database
from acd.storage.record_store import CallRecord


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The usual 022 umask, which makes new files world-readable unless asked otherwise."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def record(call_id: str) -> CallRecord:
    return CallRecord(call_id, call_id, 0, "q", 0, 1.0, 1.0, 20.0, 5.0)


async def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "acd.sqlite3"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await database.migrate()
        await database.records.save([record("a")])
        siblings = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
        assert all(p.exists() for p in siblings)  # WAL mode: both exist while open
        assert {p.name: oct(mode(p)) for p in [path, *siblings]} == {
            p.name: "0o600" for p in [path, *siblings]
        }
        assert oct(mode(path.parent)) == "0o700"
    finally:
        await database.close()


async def test_an_existing_world_readable_database_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "acd.sqlite3"
    first = Database(f"sqlite+aiosqlite:///{path}")
    await first.migrate()
    await first.close()
    wal = path.with_name(path.name + "-wal")
    wal.write_bytes(b"")  # as a crashed run leaves it
    for p in (path, wal):
        os.chmod(p, 0o644)
    with caplog.at_level(logging.WARNING):
        again = Database(f"sqlite+aiosqlite:///{path}")
    try:
        assert (oct(mode(path)), oct(mode(wal))) == ("0o640", "0o640")
        assert sum("tightened" in r.getMessage() for r in caplog.records) == 2
    finally:
        await again.close()


def test_the_queue_log_is_created_private(tmp_path: Path) -> None:
    path = tmp_path / "var" / "queue_log"
    queue_log = QueueLog(path)
    queue_log.write(["1|c|q|NONE|ENTERQUEUE|||1"])
    queue_log.close()
    assert (oct(mode(path)), oct(mode(path.parent))) == ("0o600", "0o700")


def test_an_existing_world_readable_queue_log_is_tightened(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "queue_log"
    path.write_text("0|old|q|NONE|ENTERQUEUE|||1\n")
    os.chmod(path, 0o644)
    queue_log = QueueLog(path)
    with caplog.at_level(logging.WARNING):
        queue_log.write(["1|c|q|NONE|ENTERQUEUE|||1"])
    queue_log.close()
    assert oct(mode(path)) == "0o640"
    assert len(path.read_text().splitlines()) == 2  # appended, not replaced
    assert any("tightened" in r.getMessage() for r in caplog.records)


def test_the_dead_letters_are_created_private(tmp_path: Path) -> None:
    from acd.storage.dead_letters import DeadLetters

    path = tmp_path / "var" / "dead_letters.jsonl"
    letters = DeadLetters(path)
    letters.put("call_record", record("a").to_dict(), "refused")
    letters.close()
    assert (oct(mode(path)), oct(mode(path.parent))) == ("0o600", "0o700")


def test_an_existing_var_dir_is_tightened(tmp_path: Path) -> None:
    from acd.private_files import private_dir

    var = tmp_path / "var"
    var.mkdir(mode=0o777)
    os.chmod(var, 0o777)
    private_dir(var)
    assert oct(mode(var)) == "0o750"


def test_a_group_readable_file_an_operator_chose_is_kept(tmp_path: Path) -> None:
    from acd.private_files import private_file

    path = tmp_path / "queue_log"
    path.write_text("")
    os.chmod(path, 0o640)
    private_file(path)
    assert oct(mode(path)) == "0o640"


# --- a directory or file that is not the controller's to change (the controller may run as
# root: `var_dir = "/tmp"` once turned /tmp from 1777 into 1750) ---------------------------

NOBODY = 65534


def _give_away(path: Path) -> None:
    """Make `path` another user's (chown needs root; without it there is nothing to test)."""
    try:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    except PermissionError:
        pytest.skip("chown to another user needs root")


def test_a_shared_sticky_directory_is_refused_and_left_as_it_is(tmp_path: Path) -> None:
    from acd.private_files import NotPrivateError, private_dir

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # as /tmp is, and owned by this process's user (root under make run)
    with pytest.raises(NotPrivateError, match="writable by every user"):
        private_dir(shared)
    assert oct(mode(shared)) == "0o1777"


def test_a_world_writable_directory_of_another_user_is_refused_and_left_as_it_is(
    tmp_path: Path,
) -> None:
    from acd.private_files import NotPrivateError, private_dir

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chmod(theirs, 0o777)
    _give_away(theirs)
    with pytest.raises(NotPrivateError, match="writable by every user"):
        private_dir(theirs)
    assert oct(mode(theirs)) == "0o777"


def test_another_users_directory_is_left_as_it_is_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from acd.private_files import private_dir

    theirs = tmp_path / "theirs"
    theirs.mkdir()
    os.chmod(theirs, 0o755)
    _give_away(theirs)
    with caplog.at_level(logging.WARNING):
        private_dir(theirs)
    assert oct(mode(theirs)) == "0o755"
    assert any("not private" in r.getMessage() for r in caplog.records)


def test_another_users_file_is_left_as_it_is_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from acd.private_files import private_file

    path = tmp_path / "queue_log"
    path.write_text("")
    os.chmod(path, 0o644)
    _give_away(path)
    with caplog.at_level(logging.WARNING):
        private_file(path)
    assert oct(mode(path)) == "0o644"
    assert any("not private" in r.getMessage() for r in caplog.records)


def test_a_symbolic_link_target_is_left_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A link in the var dir to a system file (as /etc/passwd is: 0644, this user's) must not
    make that file unreadable to the others."""
    from acd.private_files import private_file

    system_file = tmp_path / "passwd"
    system_file.write_text("root:x:0:0::/root:/bin/sh\n")
    os.chmod(system_file, 0o644)
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    (var / "queue_log").symlink_to(system_file)
    with caplog.at_level(logging.WARNING):
        private_file(var / "queue_log")
    assert oct(mode(system_file)) == "0o644"
    assert any("symbolic link" in r.getMessage() for r in caplog.records)


def test_a_hard_link_to_a_system_file_is_left_as_it_is(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A second name of a file of this user (root: /etc/passwd) is not the controller's file."""
    from acd.private_files import private_file

    system_file = tmp_path / "passwd"
    system_file.write_text("root:x:0:0::/root:/bin/sh\n")
    os.chmod(system_file, 0o644)
    var = tmp_path / "var"
    var.mkdir(mode=0o700)
    os.link(system_file, var / "queue_log")
    with caplog.at_level(logging.WARNING):
        private_file(var / "queue_log")
    assert oct(mode(system_file)) == "0o644"
    assert any("not private" in r.getMessage() for r in caplog.records)


def test_a_sticky_directory_of_this_user_not_world_writable_is_left_as_it_is(
    tmp_path: Path,
) -> None:
    from acd.private_files import private_dir

    shared = tmp_path / "team"
    shared.mkdir()
    os.chmod(shared, 0o1770)
    private_dir(shared)
    assert oct(mode(shared)) == "0o1770"


def test_acd_serve_refuses_a_shared_var_dir_with_a_clear_message(tmp_path: Path) -> None:
    """As a process: exit 2 and one line naming the directory and what to do (no traceback),
    before anything is created in it or listens."""
    import subprocess
    import sys

    import acd

    shared = tmp_path / "shared-tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
    env |= {
        "PYTHONPATH": str(Path(acd.__file__).parent.parent),
        "ACD_STORAGE_VAR_DIR": str(shared),
        "ACD_HTTP_HOST": "127.0.0.1",
        "ACD_HTTP_PORT": "9",  # nothing may listen: the refusal comes first
        "ACD_AMI_PORT": "9",
        "ACD_AGI_PORT": "9",
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "acd", "serve"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"acd serve started on a world-writable var_dir: {exc.stderr!r}")
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert f"acd serve: {shared}" in done.stderr
    assert "var_dir" in done.stderr
    assert oct(mode(shared)) == "0o1777"
    assert list(shared.iterdir()) == []
