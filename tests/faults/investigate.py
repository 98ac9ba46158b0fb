"""What a restarted controller can read back from Asterisk, measured on the real Asterisk 22.

Not a test (pytest does not collect it): the script behind tests/faults/FINDINGS.md.

    .venv/bin/python tests/faults/investigate.py [--source DIR] [--no-channelvars]
        [--phases abcdet] [--out FILE]

It starts its own Asterisk instance from a throw-away copy of asterisk-config/ (with
`channelvars = ACD_CALL_ID,ACD_QUEUE,ACD_ENTRY,ACD_ENTERED_AT` added to manager.conf's
[general] unless --no-channelvars), then:

  A. no controller: a caller enters acd-inbound; its dialplan state is traced, then a
     controller starts and what the caller does next is traced; A2: a controller that comes
     back before the caller's first announcement;
  B. a controller with 2 simulated agents: 2 calls talking + 3 waiting; raw CoreShowChannels,
     Status (Variables: ...) and Getvar replies for waiting and connected callers;
  C. the issue's scenario on that state: SIGKILL, restart, GET /api/v1/calls, agent states,
     what the waiting callers do afterwards, the final records;
  T. (--phases t) B and C with SIGTERM instead of SIGKILL;
  D. a ringing caller: raw CoreShowChannel while the agent rings, SIGKILL at once and 1.5 s
     into the ring, restart, what the new controller lists and records;
  E. the channel events of one answered call (ChanVariable on events).
The default is `--phases abcde`; the report goes to --out (Markdown).

`--source DIR` runs `python -m acd serve` from an exported tree (`git archive HEAD | tar -x`),
so a working tree under restructuring does not change what is measured. Raw AMI replies are
read over a plain socket (no client library in between) and printed as sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/, for `faults`

from acd.asterisk.install import install
from acd.asterisk.instance import AsteriskInstance, PortInUseError
from acd.asterisk.ports import AsteriskPorts
from acd.asterisk.testing import TEST_PREFIX, RunningAsterisk
from faults.harness import (
    ControllerProcess,
    Probe,
    classify,
    dialplan_halves,
    queue,
    sim_agent,
)

REPO = Path(__file__).resolve().parents[2]
CHANNELVARS = "channelvars = ACD_CALL_ID,ACD_QUEUE,ACD_ENTRY,ACD_ENTERED_AT"
VARIABLES = ("ACD_CALL_ID", "ACD_QUEUE", "ACD_ENTRY", "ACD_ENTERED_AT", "AGISTATUS")
TRACE_KEYS = ("Context", "Exten", "Priority", "Application", "ApplicationData", "BridgeId")


class RawAmi:
    """A plain-socket AMI session with events off: action in, raw reply blocks out."""

    def __init__(self, asterisk: RunningAsterisk) -> None:
        self.asterisk = asterisk
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.serial = 0

    async def connect(self) -> None:
        a = self.asterisk
        self.reader, self.writer = await asyncio.open_connection(a.ami_host, a.ami_port)
        await self.reader.readline()  # banner
        reply = await self.send(
            {"Action": "Login", "Username": a.ami_username, "Secret": a.ami_secret, "Events": "off"}
        )
        assert "Response: Success" in reply[0], reply

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()

    async def _block(self) -> str:
        assert self.reader is not None
        data = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        return data.decode(errors="replace").rstrip("\r\n")

    async def send(self, headers: dict[str, str]) -> list[str]:
        assert self.writer is not None
        self.serial += 1
        action_id = f"inv-{self.serial}"
        lines = [f"{k}: {v}" for k, v in headers.items()] + [f"ActionID: {action_id}"]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await self.writer.drain()
        blocks = [await self._block()]
        if "EventList: start" in blocks[0]:
            while "EventList: Complete" not in blocks[-1]:
                blocks.append(await self._block())
        return blocks


def parse(block: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in block.splitlines():
        key, _, value = line.partition(": ")
        if key in out:
            out[key] = [*out[key], value] if isinstance(out[key], list) else [out[key], value]
        else:
            out[key] = value
    return out


def show(title: str, blocks: list[str], report: list[str]) -> None:
    report.append(f"\n#### {title}\n```")
    report += [b.replace("\r\n", "\n") + "\n" for b in blocks]
    report.append("```")
    print(f"\n== {title}")
    for block in blocks:
        print(block.replace("\r\n", "\n"), end="\n\n")


def start_asterisk(template_dir: Path) -> RunningAsterisk:
    installation = install(use_host=True).installation
    for attempt in range(5):
        ports = AsteriskPorts.pick_free()
        name = f"{TEST_PREFIX}investigate-{int(time.time())}-{attempt}"
        instance = AsteriskInstance(installation, name, ports, template_dir=template_dir)
        try:
            instance.start()
        except PortInUseError:
            continue
        return RunningAsterisk(instance, ports)
    raise RuntimeError("no free ports")


async def trace(
    probe: Probe, uniqueid: str, seconds: float, log: list[str], t0: float, every: float = 0.2
) -> None:
    """Print every change of the channel's dialplan position (CoreShowChannels polling)."""
    await probe.channel_name(uniqueid)  # it exists (Newchannel seen)
    last: tuple[Any, ...] | None = None
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        rows = [c for c in await probe.channels() if c.get("Uniqueid") == uniqueid]
        state = tuple(rows[0].get(k, "") for k in TRACE_KEYS) if rows else ("(gone)",)
        if state != last:
            line = f"t={time.monotonic() - t0:6.2f}s  " + (
                " ".join(f"{k}={v}" for k, v in zip(TRACE_KEYS, state, strict=False))
                if rows
                else "channel gone"
            )
            print(line)
            log.append(line)
            last = state
            if not rows:
                return
        await asyncio.sleep(every)


def messages_since(instance: AsteriskInstance, offset: int) -> list[str]:
    try:
        text = instance.messages_log.read_text(errors="replace")
    except OSError:
        return []
    return text[offset:].splitlines()


async def phase_a(asterisk: RunningAsterisk, work: Path, source: Path | None, r: list[str]) -> None:
    r.append("\n### A. A caller enters while no controller listens on FastAGI\n")
    probe = Probe(asterisk)
    await probe.start()
    raw = RawAmi(asterisk)
    await raw.connect()
    log_offset = len(asterisk.instance.messages_log.read_text(errors="replace"))
    t0 = time.monotonic()
    caller = await probe.call("support", talk=5)
    channel = await probe.channel_name(caller.call_id)
    lines: list[str] = []
    tracing = asyncio.create_task(trace(probe, caller.call_id, 25, lines, t0))
    await asyncio.sleep(3)
    show(
        f"Status Channel={channel} Variables=... (no controller, t=3 s)",
        await raw.send(
            {
                "Action": "Status",
                "Channel": channel,
                "Variables": ",".join(
                    (*VARIABLES, "ACD_RESULT", "ACD_ANNOUNCE_EVERY", "ACD_AGENT")
                ),
            }
        ),
        r,
    )
    show(
        "Getvar TIMEOUT(response) on the caller",
        await raw.send({"Action": "Getvar", "Channel": channel, "Variable": "TIMEOUT(response)"}),
        r,
    )
    await tracing
    r.append("\nTrace (CoreShowChannels every 0.2 s, no controller):\n```")
    r += lines
    r.append("```\nThe caller's Hangup event:\n```")
    r.append(as_lines(await probe.gone(caller.call_id)))
    await asyncio.sleep(1.0)  # the logger thread writes asynchronously
    r.append("```\nAsterisk messages log meanwhile:\n```")
    r += messages_since(asterisk.instance, log_offset)[:30]
    r.append("```")
    controller = ControllerProcess(
        asterisk,
        work / "a",
        queues=[queue("support", announce_every=10)],
        agents=[sim_agent("2001")],
        source=source,
    )
    ready = await controller.start()
    r.append(f"\nController started after the caller entered: ready in {ready:.2f} s.")
    calls = await controller.live_calls()
    r.append(f"GET /api/v1/calls right after ready: {len(calls)} calls {json.dumps(calls)}")
    lines = []
    t1 = time.monotonic()
    await trace(probe, caller.call_id, 30, lines, t1)
    r.append("\nTrace after the controller started (t from ready):\n```")
    r += lines
    r.append("```")
    record = await controller.api("GET", f"/calls/{caller.call_id}")
    r.append(f"GET /api/v1/calls/{caller.call_id}: {record.status} {json.dumps(record.body)}")
    r.append("\n#### A2. The controller comes back before the caller's first announcement\n")
    await controller.kill(signal.SIGKILL)
    t0 = time.monotonic()
    caller = await probe.call("support", talk=5)
    lines = []
    tracing = asyncio.create_task(trace(probe, caller.call_id, 30, lines, t0))
    await asyncio.sleep(4)
    ready = await controller.restart()
    lines.append(f"t={time.monotonic() - t0:6.2f}s  controller ready ({ready:.2f} s after spawn)")
    calls = await controller.live_calls()
    lines.append(f"t={time.monotonic() - t0:6.2f}s  GET /api/v1/calls: {len(calls)} calls")
    await tracing
    r.append("Trace (t from the originate):\n```")
    r += lines
    r.append("```")
    record = await controller.api("GET", f"/calls/{caller.call_id}")
    r.append(f"GET /api/v1/calls/{caller.call_id}: {record.status} {json.dumps(record.body)}")
    await controller.close()
    await raw.close()
    await probe.close()


async def phase_bc(
    asterisk: RunningAsterisk,
    work: Path,
    source: Path | None,
    r: list[str],
    with_c: bool,
    sig: int = signal.SIGKILL,
) -> None:
    r.append("\n### B. Two callers talking, three waiting: what Asterisk returns\n")
    probe = Probe(asterisk)
    await probe.start()
    raw = RawAmi(asterisk)
    await raw.connect()
    controller = ControllerProcess(
        asterisk,
        work / f"bc-{sig}",
        queues=[queue("support", announce_every=10, ring_timeout=15)],
        agents=[sim_agent("2001"), sim_agent("2002")],
        source=source,
    )
    await controller.start()
    await controller.login_all()
    talking = [await probe.call("support", talk=40) for _ in range(2)]
    await probe.wait_channels(
        lambda cs: sum(1 for c in dialplan_halves(cs) if classify(c) == "connected") == 2
    )
    waiting = [await probe.call("support", talk=5) for _ in range(3)]
    await probe.wait_channels(
        lambda cs: sum(1 for c in dialplan_halves(cs) if classify(c) == "waiting") == 3
    )
    await asyncio.sleep(0.5)
    before = await controller.live_calls()
    r.append(
        f"Before the kill GET /api/v1/calls lists {len(before)}: "
        + ", ".join(f"{c['id']} {c['state']}" for c in before)
    )
    show(
        "CoreShowChannels (2 connected, 3 waiting)",
        await raw.send({"Action": "CoreShowChannels"}),
        r,
    )
    w = await probe.channel_name(waiting[0].call_id)
    t = await probe.channel_name(talking[0].call_id)
    names = ",".join(VARIABLES)
    show(
        f"Status Channel={w} (waiting) Variables={names}",
        await raw.send({"Action": "Status", "Channel": w, "Variables": names}),
        r,
    )
    show(
        f"Status Channel={t} (connected) Variables={names}",
        await raw.send({"Action": "Status", "Channel": t, "Variables": names}),
        r,
    )
    show(
        f"Status Channel={w} AllVariables=true",
        await raw.send({"Action": "Status", "Channel": w, "AllVariables": "true"}),
        r,
    )
    for name in ("ACD_CALL_ID", "ACD_ENTERED_AT", "ACD_NOPE"):
        show(
            f"Getvar {name} on {w}",
            await raw.send({"Action": "Getvar", "Channel": w, "Variable": name}),
            r,
        )
    show(
        "Getvar on a channel that does not exist",
        await raw.send(
            {
                "Action": "Getvar",
                "Channel": "Local/nope@acd-inbound-00000000;2",
                "Variable": "ACD_CALL_ID",
            }
        ),
        r,
    )

    if not with_c:
        await controller.close()
        await raw.close()
        await probe.close()
        return
    r.append(
        f"\n### C. The issue's scenario: {signal.Signals(sig).name} and restart on the same store\n"
    )
    t_kill = time.monotonic()
    code = await controller.kill(sig)
    ready = await controller.restart()
    r.append(
        f"Killed (exit {code}); restarted, ready {ready:.2f} s after spawn "
        f"({time.monotonic() - t_kill:.2f} s after the kill)."
    )
    after = await controller.live_calls()
    agents = await controller.agent_states()
    r.append(f"After the restart GET /api/v1/calls lists {len(after)} calls: {json.dumps(after)}")
    r.append(f"Agents after the restart: {agents}")
    still = dialplan_halves(await probe.channels())
    r.append(
        "Callers' ;2 halves in Asterisk after the restart: "
        + ", ".join(f"{c['Uniqueid']}={classify(c)}" for c in still)
    )
    lines: list[str] = []
    t1 = time.monotonic()
    await asyncio.gather(
        *(trace(probe, c.call_id, 45, lines, t1, every=0.25) for c in waiting + talking)
    )
    r.append("\nTraces after the restart (t from ready; the 3 waiting, then the 2 talking):\n```")
    r += lines
    r.append("```")
    await asyncio.sleep(1.0)
    for caller in waiting + talking:
        record = await controller.api("GET", f"/calls/{caller.call_id}")
        body = record.body if isinstance(record.body, dict) else {}
        r.append(f"- {caller.call_id}: GET /calls/{{id}} {record.status} {json.dumps(body)}")
    with contextlib.suppress(OSError):
        r.append("\nqueue_log:\n```\n" + controller.queue_log_path.read_text() + "```")
    r.append("\nController log (restart):\n```\n" + controller.log_tail(25) + "\n```")
    await controller.close()
    await raw.close()
    await probe.close()


async def phase_d(
    asterisk: RunningAsterisk, work: Path, source: Path | None, r: list[str], delay: float
) -> None:
    r.append(f"\n### D. A ringing caller, and a SIGKILL {delay} s into the ring\n")
    probe = Probe(asterisk)
    await probe.start()
    raw = RawAmi(asterisk)
    await raw.connect()
    controller = ControllerProcess(
        asterisk,
        work / f"d{delay}",
        queues=[queue("support", announce_every=10, ring_timeout=20)],
        agents=[sim_agent("2001")],
        source=source,
    )
    await controller.start()
    await controller.login_all()
    caller = await probe.call("support", talk=10, ring=6)
    await probe.wait_channels(lambda cs: any(classify(c) == "ringing" for c in dialplan_halves(cs)))
    show(
        "CoreShowChannels while the agent rings", await raw.send({"Action": "CoreShowChannels"}), r
    )
    await asyncio.sleep(delay)
    await controller.kill(signal.SIGKILL)
    ready = await controller.restart()
    after = await controller.live_calls()
    r.append(
        f"Killed while ringing; ready again in {ready:.2f} s; GET /api/v1/calls: "
        f"{len(after)} {json.dumps(after)}; agents {await controller.agent_states()}"
    )
    lines: list[str] = []
    await trace(probe, caller.call_id, 25, lines, time.monotonic())
    r.append("Trace of the caller after the restart (t from ready):\n```")
    r += lines
    r.append("```")
    record = await controller.api("GET", f"/calls/{caller.call_id}")
    r.append(f"GET /calls/{caller.call_id}: {record.status} {json.dumps(record.body)}")
    await controller.close()
    await raw.close()
    await probe.close()


def as_lines(message: Any) -> str:
    lines = []
    for key, value in dict(message).items():
        if key == "content":  # panoramisk's own field, not a header
            continue
        for item in value if isinstance(value, list) else [value]:
            lines.append(f"{key}: {item}")
    return "\n".join(lines)


async def phase_e(asterisk: RunningAsterisk, work: Path, source: Path | None, r: list[str]) -> None:
    r.append("\n### E. Channel events of one answered call (as the probe's AMI client saw them)\n")
    probe = Probe(asterisk)
    await probe.start()
    controller = ControllerProcess(
        asterisk, work / "e", queues=[queue("support")], agents=[sim_agent("2001")], source=source
    )
    await controller.start()
    await controller.login_all()
    caller = await probe.call("support", talk=1)
    await probe.gone(caller.call_id, within=20)
    await asyncio.sleep(0.5)
    wanted = ("Newchannel", "VarSet", "DialBegin", "BridgeEnter", "DialEnd", "Hangup")
    shown: set[str] = set()
    r.append("```")
    for message in probe.events.seen:
        name = str(message.get("Event", ""))
        if name in wanted and name not in shown and message.get("Uniqueid") == caller.call_id:
            shown.add(name)
            r.append(as_lines(message) + "\n")
    r.append("```")
    await controller.close()
    await probe.close()


async def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", type=Path, help="run acd from this tree (python -m acd)")
    parser.add_argument("--no-channelvars", action="store_true")
    parser.add_argument("--phases", default="abcde")
    parser.add_argument("--out", type=Path, default=Path("/tmp/faults-investigation.md"))
    args = parser.parse_args()
    repo = REPO
    templates = (args.source or repo) / "asterisk-config"
    work = Path(tempfile.mkdtemp(prefix="acd-faults-"))
    config = work / "asterisk-config"
    shutil.copytree(templates, config)
    manager = config / "manager.conf"
    if not args.no_channelvars:
        text = manager.read_text().replace("[general]\n", f"[general]\n{CHANNELVARS}\n", 1)
        manager.write_text(text)
    asterisk = start_asterisk(config)
    report = [
        f"## Investigation run {time.strftime('%Y-%m-%d %H:%M:%S')} "
        f"(channelvars {'off' if args.no_channelvars else 'on'}, source "
        f"{args.source or 'installed'})\n",
        f"Asterisk: {asterisk.instance.cli('core show version').strip()}",
    ]
    try:
        if "a" in args.phases:
            await phase_a(asterisk, work, args.source, report)
        if "b" in args.phases:
            await phase_bc(asterisk, work, args.source, report, "c" in args.phases)
        if "t" in args.phases:  # the same with SIGTERM
            await phase_bc(asterisk, work, args.source, report, True, signal.SIGTERM)
        if "d" in args.phases:
            for delay in (0.0, 1.5):
                await phase_d(asterisk, work, args.source, report, delay)
        if "e" in args.phases:
            await phase_e(asterisk, work, args.source, report)
    finally:
        args.out.write_text("\n".join(report) + "\n")
        print(f"\nreport: {args.out}; work dir {work}")
        asterisk.instance.remove()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
