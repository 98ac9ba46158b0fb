"""`acd serve` with a row its database refuses (issue #11: one bad record stopped all records,
`/reports` and `/calls/{id}` hung, SIGTERM no longer stopped the process).

The controller runs as a real subprocess on a SQLite store (no Asterisk needed: the API
works while the AMI link is down). A trigger makes the database refuse agent 2001's state
intervals, as it would refuse any bad value; agent 2002's must still be stored, the refused
row be in the dead letters and the counter, the reads answer, and SIGTERM end the process
within a bound. The files it created hold caller data: 0600 in a 0700 var dir."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import sqlalchemy as sa

import acd
from acd.asterisk.ports import LOOPBACK, free_port
from acd.storage import Database

TOKEN = "serve-refused-row-admin-token-0123456789abcdef"
READ_BOUND = 10.0  # the reads wait at most 5 s for the writer
STOP_BOUND = 25.0  # the writer's close waits at most 10 s, the agent states' 10 s

REFUSE_2001 = """CREATE TRIGGER refuse_2001 BEFORE INSERT ON acd_agent_intervals
    WHEN NEW.agent_id = '2001' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"""


def config(var_dir: Path, http_port: int) -> str:
    closed = free_port(socket.SOCK_STREAM)  # nothing listens: the AMI link stays down
    agi = free_port(socket.SOCK_STREAM, avoid={closed, http_port})
    agents = "".join(
        f'\n[[agents]]\nid = "{a}"\nname = "{a}"\ncontact = "PJSIP/{a}"\n' for a in ("2001", "2002")
    )
    return f"""api_token = "{TOKEN}"

[ami]
host = "{LOOPBACK}"
port = {closed}
username = "acd"
secret = "unused-ami-secret"

[agi]
host = "{LOOPBACK}"
port = {agi}
secret = "unused-agi-secret"

[http]
host = "{LOOPBACK}"
port = {http_port}

[storage]
url = ""
var_dir = "{var_dir}"

[[queues]]
name = "support"
{agents}"""


class Served:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.var_dir = workdir / "var"
        self.port = free_port(socket.SOCK_STREAM)
        self.log = workdir / "acd-serve.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.session = aiohttp.ClientSession(headers={"Authorization": f"Bearer {TOKEN}"})

    def spawn(self) -> None:
        (self.workdir / "acd.toml").write_text(config(self.var_dir, self.port))
        env = {k: v for k, v in os.environ.items() if not k.startswith("ACD_")}
        env["PYTHONPATH"] = str(Path(acd.__file__).parent.parent)  # the code under test
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "acd", "serve", "--config", "acd.toml"],
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    async def get(self, path: str, within: float) -> tuple[int, str]:
        url = f"http://{LOOPBACK}:{self.port}{path}"
        async with asyncio.timeout(within), self.session.get(url) as reply:
            return reply.status, await reply.text()

    async def post(self, path: str) -> int:
        url = f"http://{LOOPBACK}:{self.port}/api/v1{path}"
        async with asyncio.timeout(READ_BOUND), self.session.post(url) as reply:
            return reply.status

    async def wait_up(self) -> None:
        deadline = time.monotonic() + 30
        while True:
            assert self.process is not None
            assert self.process.poll() is None, self.log_text()
            try:
                status, _ = await self.get("/healthz", 2)
                if status == 200:
                    return
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            assert time.monotonic() < deadline, self.log_text()
            await asyncio.sleep(0.1)

    async def terminate(self) -> float | None:
        """SIGTERM; the seconds it took to exit, None if it was still running after
        STOP_BOUND (then SIGKILLed)."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        while self.process.poll() is None:
            if time.monotonic() - started > STOP_BOUND:
                self.process.kill()
                self.process.wait()
                return None
            await asyncio.sleep(0.05)
        return time.monotonic() - started

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        await self.session.close()


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    previous = os.umask(0o022)  # the usual umask: new files world-readable unless asked
    rig = Served(tmp_path)
    try:
        database = Database(f"sqlite+aiosqlite:///{rig.var_dir / 'acd.sqlite3'}")
        await database.migrate()
        async with database.engine.begin() as conn:
            await conn.execute(sa.text(REFUSE_2001))
        await database.close()
        rig.spawn()
        await rig.wait_up()
        yield rig
    finally:
        os.umask(previous)
        await rig.close()


def mode(path: Path) -> str:
    return oct(stat.S_IMODE(path.stat().st_mode))


async def test_a_refused_row_stops_nothing_and_sigterm_stops_the_process(
    served: Served,
) -> None:
    assert await served.post("/agents/2001/login") == 200  # its interval will be refused
    assert await served.post("/agents/2002/login") == 200

    status, _ = await served.get("/api/v1/calls/no-such-call", READ_BOUND)
    assert status == 404
    status, _ = await served.get("/api/v1/reports/queues", READ_BOUND)
    assert status == 200
    _, metrics = await served.get("/metrics", READ_BOUND)
    assert 'acd_records_dead_lettered_total{kind="agent_interval"} 1.0' in metrics

    took = await served.terminate()
    assert took is not None, f"still running {STOP_BOUND} s after SIGTERM:\n{served.log_text()}"
    assert served.process is not None
    assert served.process.returncode == 0

    database = Database(f"sqlite+aiosqlite:///{served.var_dir / 'acd.sqlite3'}")
    try:
        intervals = await database.records.intervals_overlapping(0, 2**40)
    finally:
        await database.close()
    assert {i.agent_id for i in intervals} == {"2002"}
    dead = [
        json.loads(line)
        for line in (served.var_dir / "dead_letters.jsonl").read_text().splitlines()
    ]
    assert [(d["kind"], d["row"]["agent_id"]) for d in dead] == [("agent_interval", "2001")]
    assert "refused by a trigger" in dead[0]["reason"]

    var = served.var_dir
    assert mode(var) == "0o700"
    files = ["acd.sqlite3", "queue_log", "dead_letters.jsonl"]
    assert {name: mode(var / name) for name in files} == dict.fromkeys(files, "0o600")
