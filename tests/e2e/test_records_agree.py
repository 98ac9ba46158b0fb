"""Metrics, call records and queue_log agree call for call, on the real Asterisk.

The application is built exactly as `acd serve` builds it (`acd.compose.assemble` plus the real
controller) on the fixture's Asterisk, with SQLite and the queue_log in tmp_path. Callers are
Local channels into acd-inbound, agents are simulated (Local/<ext>@acd-sim-agent). The calls
produce: answered within and after the service-level threshold, abandoned (lost), short
abandoned, a ring-no-answer then answered, an overflow into another queue and a timeout exit.
Then the Prometheus scrape (/metrics over HTTP), the stored records and the queue_log lines
must tell the same story, and a restart on the same SQLite file must not change the counters.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from controller.harness import StepWatch
from prometheus_client.parser import text_string_to_metric_families
from watch import WAIT, Watch, ami_probe, close_probe

from acd.asterisk.testing import RunningAsterisk
from acd.compose import Assembly, assemble, start_controller
from acd.config import AgentSeed, AgiSettings, AmiSettings, Settings, StorageSettings
from acd.observe.kpi import service_levels, tally
from acd.router.decisions import CallExited, CallOverflowed
from acd.router.events import CallAbandoned, CallArrived, CallEnded, OfferAnswered, OfferFailed
from acd.router.model import QueueConfig, frozen_skills
from acd.storage.record_store import CallRecord

pytestmark = pytest.mark.asterisk

SL = 2.0  # sl_threshold of every queue
SHORT = 1.0  # short_abandon of every queue
COUNTERS = {
    "acd_calls_offered": None,
    "acd_calls_answered": "answered",
    "acd_calls_abandoned": "abandoned",
    "acd_calls_short_abandoned": "short_abandoned",
    "acd_calls_overflowed": "overflowed",
}
_serial = itertools.count(1)


def _queue(name: str, skill: str, **options: Any) -> QueueConfig:
    options.setdefault("max_wait", None)
    return QueueConfig(
        name,
        skills=frozen_skills({skill: 1}),
        sl_threshold=SL,
        short_abandon=SHORT,
        wrap_up=0.0,
        ring_timeout=1.0,
        **options,
    )


def _settings(asterisk: RunningAsterisk, var: Path) -> Settings:
    agents = (("2001", "support"), ("2002", "rona"))
    return Settings(
        ami=AmiSettings(port=asterisk.ami_port, secret=asterisk.ami_secret),
        agi=AgiSettings(host=asterisk.agi_host, port=asterisk.agi_port, secret=asterisk.agi_secret),
        storage=StorageSettings(var_dir=str(var)),
        queues=(
            _queue("support", "support"),
            _queue("rona", "rona"),
            # Nobody has these skills: calls wait until max_wait moves them on.
            _queue("sales", "sales", max_wait=1.0, overflow="support"),
            _queue("late", "nobody", max_wait=1.0),
        ),
        agents=tuple(
            AgentSeed(i, name=i, contact=f"Local/{i}@acd-sim-agent", skills=frozen_skills({s: 1}))
            for i, s in agents
        ),
    )


@dataclass
class Caller:
    leg: str  # uniqueid of the ;1 half (the far end)

    @property
    def call_id(self) -> str:
        return f"{self.leg};2"  # the ;2 half runs the dialplan: the ACD's call id


class Probe:
    """A second AMI login that originates callers and hangs them up."""

    def __init__(self, asterisk: RunningAsterisk) -> None:
        self.asterisk = asterisk
        self.events = Watch()
        self.manager: Any = None

    async def start(self) -> None:
        self.manager = await ami_probe(self.asterisk, self.events)

    async def stop(self) -> None:
        if self.manager is None:
            return
        try:
            listing = await asyncio.wait_for(
                self.manager.send_action({"Action": "CoreShowChannels"}, as_list=True), WAIT
            )
            for message in listing:
                if message.get("Event") == "CoreShowChannel":
                    await self.action(Action="Hangup", Channel=message["Channel"])
        finally:
            close_probe(self.manager)

    async def action(self, **headers: Any) -> Any:
        headers.setdefault("Async", "false")
        return await asyncio.wait_for(self.manager.send_action(headers), WAIT)

    async def call(self, queue: str, *, talk: float, ring: float = 0) -> Caller:
        caller = Caller(f"agree-{next(_serial)}")
        response = await self.action(
            Action="Originate",
            Channel=f"Local/{queue}@acd-inbound/n",
            Application="Wait",
            Data="60",
            Async="true",
            ChannelId=caller.leg,
            Variable=[f"__ACD_SIM_TALK={talk}", f"__ACD_SIM_RING={ring}", "ACD_MOH=silent"],
        )
        assert response[-1]["Response"] == "Success", response
        return caller

    async def channel(self, uniqueid: str) -> str:
        event = await self.events.first(
            lambda m: m.get("Event") == "Newchannel" and m.get("Uniqueid") == uniqueid
        )
        return str(event["Channel"])

    async def hangup(self, caller: Caller) -> None:
        """The caller hangs up (its far end, the ;1 half, goes away)."""
        await self.action(Action="Hangup", Channel=await self.channel(caller.leg))


@pytest.fixture
async def app(asterisk: RunningAsterisk, tmp_path: Path) -> AsyncIterator[Assembly]:
    assembly = await assemble(_settings(asterisk, tmp_path))
    try:
        await start_controller(assembly)
        await assembly.controller.wait_ready(WAIT)
        yield assembly
    finally:
        await assembly.close()


async def scrape(app: Any) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """GET /metrics over HTTP; samples by (name, sorted labels)."""
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def counter(samples: dict[Any, float], name: str, queue: str) -> float:
    return samples.get((f"{name}_total", (("queue", queue),)), 0.0)


def queue_log(path: Path) -> dict[tuple[str, str], list[str]]:
    """Events per (call id, queue), in file order; agent lines (call id NONE) left out."""
    events: dict[tuple[str, str], list[str]] = defaultdict(list)
    for line in path.read_text().splitlines():
        _at, call_id, queue, _agent, event, *_data = line.split("|")
        if call_id != "NONE":
            events[call_id, queue].append(event)
    return events


def expected_events(record: CallRecord) -> list[str]:
    """The queue_log events a leg with this outcome must have, in order."""
    events = ["ENTERQUEUE"] + ["RINGNOANSWER"] * record.rona_count
    if record.outcome == "answered":
        side = "COMPLETEAGENT" if record.hung_up_by == "agent" else "COMPLETECALLER"
        return [*events, "CONNECT", side]
    if record.outcome in ("abandoned", "short_abandoned"):
        return [*events, "ABANDON"]
    if record.outcome == "overflowed" or record.exit_reason == "timeout":
        return [*events, "EXITWITHTIMEOUT"]
    raise AssertionError(f"unexpected outcome in {record}")


async def test_metrics_records_and_queue_log_agree(
    asterisk: RunningAsterisk, app: Assembly, tmp_path: Path
) -> None:
    steps = StepWatch()
    app.engine.add_listener(steps)
    probe = Probe(asterisk)
    await probe.start()

    def event_for(kind: type, call: Caller) -> Any:
        return steps.event(
            lambda e: isinstance(e, kind) and getattr(e, "call_id", 0) == call.call_id
        )

    def decision_for(kind: type, call: Caller) -> Any:
        return steps.decision(
            lambda d: isinstance(d, kind) and getattr(d, "call_id", 0) == call.call_id
        )

    try:
        for agent in ("2001", "2002"):
            await app.services.agents.login(agent)
        # support: 2001 takes `first` at once (within SL) and talks 3 s, so `second` waits
        # longer than SL (answered after it); `lost` hangs up after SHORT but within SL,
        # `short` at once; `moved` overflows from sales into support after 1 s.
        first = await probe.call("support", talk=3)
        await event_for(OfferAnswered, first)
        second = await probe.call("support", talk=0.5)
        lost = await probe.call("support", talk=0.5)
        short = await probe.call("support", talk=0.5)
        await event_for(CallArrived, short)
        await probe.hangup(short)
        moved = await probe.call("sales", talk=0.5)
        timed_out = await probe.call("late", talk=0.5)
        # rona: 2002 never answers the first offer (RONA pauses it), then the caller's
        # agents answer at once and 2002 is back: the second offer is answered.
        rona = await probe.call("rona", talk=0.5, ring=-1)
        entered = await event_for(CallArrived, lost)

        await event_for(OfferFailed, rona)
        await probe.action(
            Action="Setvar",
            Channel=await probe.channel(rona.call_id),
            Variable="__ACD_SIM_RING",
            Value="0",
        )
        await app.services.agents.unpause("2002")
        # `lost` leaves after SHORT (not a short abandon) but within SL.
        await asyncio.sleep(max(0.0, entered.now + SHORT + 0.4 - app.engine.now()))
        await probe.hangup(lost)

        for call in (short, lost):
            await event_for(CallAbandoned, call)
        await decision_for(CallOverflowed, moved)
        await decision_for(CallExited, timed_out)
        for call in (first, second, moved, rona):
            await event_for(CallEnded, call)
        assert app.writer is not None
        await app.writer.flush()
        records = await app.database.records.all_calls()
        samples = await scrape(app.app)
    finally:
        await probe.stop()

    # The mix happened: every outcome this test is about is in the records.
    by_call = {r.call_id: r for r in records if r.leg == 0}
    assert by_call[first.call_id].outcome == "answered"
    assert (by_call[first.call_id].wait or 0.0) <= SL
    assert by_call[second.call_id].outcome == "answered"
    assert (by_call[second.call_id].wait or 0.0) > SL
    assert by_call[lost.call_id].outcome == "abandoned"
    assert by_call[short.call_id].outcome == "short_abandoned"
    assert by_call[moved.call_id].outcome == "overflowed"
    assert (by_call[timed_out.call_id].outcome, by_call[timed_out.call_id].exit_reason) == (
        "exited",
        "timeout",
    )
    assert by_call[rona.call_id].outcome == "answered"
    assert by_call[rona.call_id].rona_count == 1
    moved_on = [r for r in records if r.call_id == moved.call_id and r.leg == 1]
    assert [(r.queue, r.outcome) for r in moved_on] == [("support", "answered")]
    assert len(records) == 8

    # Records and queue_log agree call for call (one key per call id and queue).
    lines = queue_log(tmp_path / "queue_log")
    assert set(lines) == {(r.call_id, r.queue) for r in records}
    for record in records:
        assert lines[record.call_id, record.queue] == expected_events(record), record

    # The counters are the counts of records by outcome, queue by queue.
    queues = {r.queue for r in records}
    for queue in queues:
        mine = [r for r in records if r.queue == queue]
        outcomes = Counter(r.outcome for r in mine)
        for name, outcome in COUNTERS.items():
            expected = len(mine) if outcome is None else outcomes[outcome]
            assert counter(samples, name, queue) == expected, (name, queue)
        within = sum(
            1 for r in mine if r.outcome == "answered" and r.wait is not None and r.wait <= SL
        )
        assert counter(samples, "acd_calls_answered_within_threshold", queue) == within
        # The service level from the records (acd.observe.kpi) is the gauge, for every treatment.
        counts = tally((r.outcome or "", r.wait or 0.0, r.sl_threshold) for r in mine)
        for treatment, value in service_levels(counts).items():
            gauge = samples[
                ("acd_service_level_ratio", (("queue", queue), ("treatment", treatment)))
            ]
            if value is None:
                assert math.isnan(gauge), (queue, treatment)
            else:
                assert gauge == pytest.approx(value), (queue, treatment)
    support = [(r.outcome or "", r.wait or 0.0, SL) for r in records if r.queue == "support"]
    assert len(set(service_levels(tally(support)).values())) == 3  # the abandon tells them apart

    # A restart on the same SQLite file restores every counter and the service levels.
    await app.close()
    again = await assemble(app.settings)
    try:
        restored = await scrape(again.app)
    finally:
        await again.close()
    for queue in queues:
        for name in [*COUNTERS, "acd_calls_answered_within_threshold"]:
            assert counter(restored, name, queue) == counter(samples, name, queue), (name, queue)
        for key, value in samples.items():
            if key[0] == "acd_service_level_ratio" and ("queue", queue) in key[1]:
                assert restored[key] == pytest.approx(value, nan_ok=True), key
