"""On the real Asterisk: what a local process squatting the FastAGI port (the controller down)
can and cannot do to a caller's channel, and the simulated caller of the contract.

FastAGI gives whoever listens on the port the channels that reach it (issue #11): the squatter
reads the key. What it must not get is a shell: no application or function that runs a
program is reachable (modules.conf loads none; asterisk.conf live_dangerously = no)."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from acd.asterisk.testing import RunningAsterisk
from agi.server import HEADER_TIMEOUT, KEY_TIMEOUT

ASTERISK_CONF = Path(__file__).resolve().parents[2] / "asterisk-config" / "asterisk.conf"


def _writable_dir() -> Path:
    """Where Asterisk's user could write (a mark must be makeable for its absence to tell)."""
    path = Path(tempfile.mkdtemp(prefix="acd-squat-", dir="/tmp"))
    path.chmod(0o777)
    return path


async def test_a_port_squatter_gets_the_key_but_no_shell(asterisk: RunningAsterisk) -> None:
    tmp_path = _writable_dir()
    marks = {name: tmp_path / name for name in ("system", "shell", "agi", "trysystem")}
    commands = {
        "system": f'EXEC System "touch {marks["system"]}"',
        "trysystem": f'EXEC TryExec "System(touch {marks["trysystem"]})"',
        "shell": f"GET FULL VARIABLE ${{SHELL(touch {marks['shell']})}}",
        "agi": f'EXEC AGI "/bin/sh,-c,touch {marks["agi"]}"',
        "key": "GET VARIABLE GLOBAL(ACD_AGI_KEY)",
        # A control: EXEC does run what is loaded (here on a global, read back below).
        "set": 'EXEC Set "GLOBAL(ACD_SQUATTED)=1"',
        "read": "GET FULL VARIABLE ${GLOBAL(ACD_SQUATTED)}",
    }
    answers: dict[str, str] = {}
    took: dict[str, float] = {}
    done = asyncio.get_running_loop().create_future()

    async def squatter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            accepted = time.perf_counter()
            await reader.readuntil(b"\n\n")
            took["environment"] = time.perf_counter() - accepted
            for name, command in commands.items():
                asked = time.perf_counter()
                writer.write(command.encode() + b"\n")
                await writer.drain()
                answers[name] = (await asyncio.wait_for(reader.readline(), 10)).decode().strip()
                took[name] = time.perf_counter() - asked
        finally:
            writer.close()
            if not done.done():
                done.set_result(None)

    server = await asyncio.start_server(squatter, asterisk.agi_host, asterisk.agi_port)
    try:
        asterisk.instance.cli("channel originate Local/support@acd-inbound application Wait 20")
        await asyncio.wait_for(done, 20)
    finally:
        server.close()
        asterisk.instance.cli("channel request hangup all")
    log = asterisk.instance.messages_log
    print(
        answers,
        [
            line
            for line in log.read_text(errors="replace").splitlines()[-40:]
            if "AGI" in line or "sh" in line
        ]
        if log.exists()
        else "",
    )
    asterisk.instance.cli("dialplan set global ACD_SQUATTED 0")
    # What the FastAGI server's bounds (HEADER_TIMEOUT, KEY_TIMEOUT) must cover, measured.
    print(
        f"environment after {took['environment'] * 1e3:.2f} ms, key answer after "
        f"{took['key'] * 1e3:.2f} ms"
    )
    assert took["environment"] < HEADER_TIMEOUT / 10
    assert took["key"] < KEY_TIMEOUT / 10
    # The inherent limit, asserted so that what the README says stays true.
    assert answers["key"] == f"200 result=1 ({asterisk.agi_secret})"
    assert answers["read"] == "200 result=1 (1)"
    assert answers["system"] == "200 result=-2"  # no such application
    assert answers["trysystem"].startswith("200 result=0")
    assert "result=1" not in answers["shell"] or "()" in answers["shell"]
    await asyncio.sleep(0.5)
    assert [name for name, mark in marks.items() if mark.exists()] == []
    shutil.rmtree(tmp_path)
    assert "live_dangerously = no" in ASTERISK_CONF.read_text()


def _sim_caller_states(asterisk: RunningAsterisk) -> list[str]:
    """The state of each channel of the simulated caller (`core show channels concise`)."""
    listing = asterisk.instance.cli("core show channels concise")
    return [
        line.split("!")[4]
        for line in listing.splitlines()
        if line.startswith("Local/5551234@acd-sim-caller") and line.count("!") > 4
    ]


async def test_the_simulated_caller_answers_and_stays_on_the_line(
    asterisk: RunningAsterisk,
) -> None:
    """The contract's `Local/<number>@acd-sim-caller`: answers (ACD_SIM_RING 0 by default)
    and is still up after longer than a simulated agent talks (5 s), until hung up."""
    asterisk.instance.cli("channel originate Local/5551234@acd-sim-caller application Wait 30")
    try:
        await asyncio.sleep(1.0)
        states = _sim_caller_states(asterisk)
        assert states
        assert set(states) == {"Up"}
        await asyncio.sleep(5.5)
        states = _sim_caller_states(asterisk)
        assert states
        assert set(states) == {"Up"}
    finally:
        asterisk.instance.cli("channel request hangup all")
    await asyncio.sleep(0.5)
    assert _sim_caller_states(asterisk) == []
