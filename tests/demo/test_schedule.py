"""The demo's schedule (acd/demo/schedule.py), driven with a seeded random source and a real
Router for what the ACD shows: the Poisson arrivals, what each caller is like, the patience
rule and the agents' breaks."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections import Counter

import pytest

from acd.config.settings import DemoSettings
from acd.demo.schedule import (
    BREAK_RETRY,
    LATE_LIMIT,
    MIN_BREAK,
    MIN_PATIENCE,
    MIN_TALK,
    Arrive,
    Caller,
    DemoSchedule,
    GiveUp,
    Pause,
    Unpause,
    gives_up,
)
from acd.router.events import (
    AgentLoggedIn,
    AgentPaused,
    AgentUnpaused,
    AgentUpserted,
    CallAbandoned,
    CallArrived,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import AgentState, CallState, QueueConfig
from acd.router.router import Router

START = 1_800_000_000.0


def router(*queues: str, agents: tuple[str, ...] = ()) -> Router:
    r = Router()
    for name in queues:
        r.handle(QueueUpserted(START, QueueConfig(name)))
    for agent_id in agents:
        r.handle(AgentUpserted(START, agent_id))
        r.handle(AgentLoggedIn(START, agent_id))
    return r


def callers_only(**options: object) -> DemoSettings:
    """A demo without breaks (the callers' stream alone)."""
    return DemoSettings(enabled=True, break_every=0.0, **options)  # type: ignore[arg-type]


def run(
    schedule: DemoSchedule, seen: Router, until: float
) -> list[tuple[float, Arrive | GiveUp | Pause | Unpause]]:
    """Every action up to `until`, woken exactly at each due time (as the driver is); the
    breaks' pauses and unpauses go to the router at once (as the driver's do)."""
    actions = []
    while (due := schedule.next_due()) <= until:
        for action in schedule.due(due, seen):
            actions.append((due, action))
            if isinstance(action, Pause):
                seen.handle(AgentPaused(due, action.agent_id, action.reason))
            elif isinstance(action, Unpause):
                seen.handle(AgentUnpaused(due, action.agent_id))
    return actions


def arrivals(actions: list[tuple[float, object]]) -> list[tuple[float, Caller]]:
    return [(t, a.caller) for t, a in actions if isinstance(a, Arrive)]


# --- arrivals ------------------------------------------------------------------------------


def test_arrivals_are_a_poisson_stream_of_the_configured_rate() -> None:
    seen = router("support")
    schedule = DemoSchedule(callers_only(calls_per_minute=8.0), (), random.Random(1), START)
    hours = 50
    times = [t for t, _ in arrivals(run(schedule, seen, START + hours * 3600))]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 8 a minute: 24,000 callers in 50 h, a mean gap of 7.5 s (its standard error 0.05 s)...
    assert len(times) == pytest.approx(8 * 60 * hours, rel=0.02)
    assert statistics.fmean(gaps) == pytest.approx(7.5, rel=0.02)
    # ... exponential gaps (their standard deviation equals their mean; a regular stream's is
    # 0) and Poisson counts per minute (variance equals mean: dispersion index 1).
    assert statistics.stdev(gaps) == pytest.approx(7.5, rel=0.03)
    per_minute = Counter(int((t - START) // 60) for t in times)
    counts = [per_minute.get(m, 0) for m in range(hours * 60)]
    assert statistics.fmean(counts) == pytest.approx(8.0, rel=0.02)
    assert statistics.pvariance(counts) / statistics.fmean(counts) == pytest.approx(1.0, abs=0.06)
    # The share of minutes without any caller is e^-8 (Poisson), not 0.
    assert counts.count(0) / len(counts) == pytest.approx(math.exp(-8), abs=0.001)


def test_the_first_caller_comes_at_once_then_the_stream() -> None:
    """A newcomer sees a call at the start, not after an exponential wait (at 8 a minute one
    start in 14 would wait over 20 s); the Poisson stream follows from there."""
    seen = router("support")
    firsts = []
    for seed in range(2000):
        schedule = DemoSchedule(callers_only(patience_mean=0.0), (), random.Random(seed), START)
        assert schedule.next_due() == START
        assert [type(a) for a in schedule.due(START, seen)] == [Arrive]
        firsts.append(schedule.next_due() - START)
    assert statistics.fmean(firsts) == pytest.approx(7.5, rel=0.05)


def test_queues_get_callers_by_weight_and_alike_without_weights() -> None:
    seen = router("support", "sales", "vip")
    weighted = DemoSchedule(
        callers_only(calls_per_minute=600.0, queues=(("support", 2.0), ("sales", 1.0))),
        (),
        random.Random(2),
        START,
    )
    shares = Counter(c.queue for _, c in arrivals(run(weighted, seen, START + 3600)))
    assert set(shares) == {"support", "sales"}  # vip has no weight: none
    assert shares["support"] / shares.total() == pytest.approx(2 / 3, abs=0.01)
    alike = DemoSchedule(callers_only(calls_per_minute=600.0), (), random.Random(3), START)
    shares = Counter(c.queue for _, c in arrivals(run(alike, seen, START + 3600)))
    for name in ("support", "sales", "vip"):  # every configured queue, a third each
        assert shares[name] / shares.total() == pytest.approx(1 / 3, abs=0.01)


def test_no_queue_configured_means_no_caller_and_the_stream_goes_on() -> None:
    empty = Router()
    schedule = DemoSchedule(callers_only(calls_per_minute=60.0), (), random.Random(4), START)
    assert arrivals(run(schedule, empty, START + 600)) == []
    assert schedule.next_due() is not None  # still drawing: a queue added later gets callers
    assert schedule.dropped > 0


def test_each_caller_talks_and_waits_exponential_times_above_their_floors() -> None:
    seen = router("support")
    plan = callers_only(calls_per_minute=600.0, talk_mean=15.0, patience_mean=40.0, ring=2.5)
    schedule = DemoSchedule(plan, (), random.Random(5), START)
    callers = arrivals(run(schedule, seen, START + 3600))
    talks = [c.talk for _, c in callers]
    patiences = [c.gives_up_at - t for t, c in callers if c.gives_up_at is not None]
    assert len(patiences) == len(callers) > 30_000
    assert min(talks) == MIN_TALK
    assert min(patiences) == MIN_PATIENCE
    # E[max(a, X)] for X exponential of mean m: a + m e^(-a/m).
    assert statistics.fmean(talks) == pytest.approx(
        MIN_TALK + 15.0 * math.exp(-MIN_TALK / 15.0), rel=0.02
    )
    assert statistics.fmean(patiences) == pytest.approx(
        MIN_PATIENCE + 40.0 * math.exp(-MIN_PATIENCE / 40.0), rel=0.02
    )
    assert {c.ring for _, c in callers} == {2.5}
    assert len({c.leg for _, c in callers}) == len(callers)  # one channel id each


def test_patience_zero_never_gives_up() -> None:
    seen = router("support")
    schedule = DemoSchedule(
        callers_only(calls_per_minute=60.0, patience_mean=0.0), (), random.Random(6), START
    )
    callers = arrivals(run(schedule, seen, START + 600))
    assert callers
    assert all(c.gives_up_at is None for _, c in callers)


def test_caller_data_is_plausible_invented_text_or_nothing() -> None:
    seen = router("support")
    schedule = DemoSchedule(callers_only(calls_per_minute=600.0), (), random.Random(7), START)
    callers = [c for _, c in arrivals(run(schedule, seen, START + 60))]
    for caller in callers:
        customer, name, tier = caller.data.split("; ")
        assert customer.startswith("customer=")
        assert customer[9:].isdigit()
        assert name == f"name={caller.name}"
        assert len(caller.name.split(" ")) == 2
        assert tier in ("tier=gold", "tier=silver", "tier=bronze")
        # An Originate's Variable header is split at commas; quotes and CR/LF never occur.
        assert not set(caller.data + caller.name) & set(',"\\\r\n')
        assert caller.number.startswith("+1555")
        assert len(caller.number) == 12
    assert len({c.name for c in callers}) > 20
    plain = DemoSchedule(
        callers_only(calls_per_minute=600.0, caller_data=False), (), random.Random(7), START
    )
    assert all(c.data == "" for _, c in arrivals(run(plain, seen, START + 60)))


def test_the_same_seed_gives_the_same_demo() -> None:
    seen = router("support", "sales", agents=("2001", "2002"))
    plan = DemoSettings(enabled=True, calls_per_minute=30.0, break_every=60.0)

    def actions(seed: int) -> list[tuple[float, object]]:
        schedule = DemoSchedule(plan, ("2001", "2002"), random.Random(seed), START, leg="demo")
        return run(schedule, seen, START + 1800)

    assert actions(8) == actions(8)
    assert actions(8) != actions(9)


def test_a_stalled_loop_drops_the_late_callers_instead_of_a_burst() -> None:
    seen = router("support")
    schedule = DemoSchedule(callers_only(calls_per_minute=60.0), (), random.Random(10), START)
    first = schedule.next_due()
    assert first is not None
    woke = first + LATE_LIMIT + 3600  # an hour late (a laptop asleep)
    assert schedule.due(woke, seen) == []
    due = schedule.next_due()
    assert due is not None
    assert woke < due
    assert schedule.dropped >= 1
    # A caller due a little late (less than LATE_LIMIT) still comes.
    schedule.due(due, seen)
    later = schedule.next_due()
    assert later is not None
    assert [type(a) for a in schedule.due(later + LATE_LIMIT / 2, seen)][:1] == [Arrive]


# --- patience ------------------------------------------------------------------------------


def test_the_patience_rule() -> None:
    assert gives_up(CallState.WAITING)
    assert gives_up(CallState.OFFERED)  # still ringing: a caller does not know an agent is
    assert not gives_up(CallState.CONNECTED)  # answered
    assert not gives_up(None)  # gone (served, or it left) or never entered


def test_a_caller_still_waiting_or_ringing_after_its_patience_gives_up() -> None:
    seen = router("support")
    plan = callers_only(calls_per_minute=600.0, patience_mean=600.0)
    schedule = DemoSchedule(plan, (), random.Random(11), START)
    callers: list[Caller] = []
    while len(callers) < 4:  # 4 callers within about half a second, patience 2 s at least
        due = schedule.next_due()
        assert due is not None
        for action in schedule.due(due, seen):
            assert isinstance(action, Arrive)
            callers.append(action.caller)
    answered, ringing, waiting, gone = callers[:4]
    seen.handle(CallArrived(START, answered.call_id, "support"))
    seen.handle(AgentUpserted(START, "2001"))
    seen.handle(AgentLoggedIn(START, "2001"))  # offered the only call
    seen.handle(OfferAnswered(START, answered.call_id, "2001"))
    seen.handle(CallArrived(START, ringing.call_id, "support"))
    seen.handle(AgentUpserted(START, "2002"))
    seen.handle(AgentLoggedIn(START, "2002"))  # offered it, still ringing
    seen.handle(CallArrived(START, waiting.call_id, "support"))
    seen.handle(CallArrived(START, gone.call_id, "support"))
    seen.handle(CallAbandoned(START, gone.call_id))
    states = {c.leg: (v.state if (v := seen.call(c.call_id)) else None) for c in callers[:4]}
    assert list(states.values()) == [
        CallState.CONNECTED,
        CallState.OFFERED,
        CallState.WAITING,
        None,
    ]
    deadline = max(c.gives_up_at for c in callers if c.gives_up_at is not None)
    given_up = [(t, a.caller) for t, a in run(schedule, seen, deadline) if isinstance(a, GiveUp)]
    assert [c.leg for _, c in given_up] == [
        c.leg for c in sorted((ringing, waiting), key=lambda c: c.gives_up_at or 0)
    ]
    for t, caller in given_up:  # exactly at its patience's end
        assert t == caller.gives_up_at


# --- breaks --------------------------------------------------------------------------------


def with_breaks(**options: object) -> DemoSettings:
    values: dict[str, object] = {"calls_per_minute": 0.001, "break_every": 60.0, **options}
    return DemoSettings(enabled=True, **values)  # type: ignore[arg-type]


def test_an_available_agent_takes_a_break_with_a_reason_and_comes_back() -> None:
    seen = router("support", agents=("2001",))
    schedule = DemoSchedule(with_breaks(), ("2001",), random.Random(12), START)
    paused_at = unpaused_at = None
    reasons = []
    breaks = []
    for t, action in run(schedule, seen, START + 24 * 3600):
        if isinstance(action, Pause):
            assert action.agent_id == "2001"
            assert paused_at is None
            paused_at = t
            reasons.append(action.reason)
        elif isinstance(action, Unpause):
            assert paused_at is not None
            breaks.append(t - paused_at)
            paused_at = None
            unpaused_at = t
    assert unpaused_at is not None
    assert set(reasons) == {"coffee", "coaching", "admin"}
    assert min(breaks) >= MIN_BREAK
    assert statistics.fmean(breaks) == pytest.approx(
        MIN_BREAK + 20.0 * math.exp(-MIN_BREAK / 20.0), rel=0.1
    )
    # One break after an exponential 60 s of work on average: about 24 h / (60 s + break).
    assert len(breaks) == pytest.approx(24 * 3600 / (60 + statistics.fmean(breaks)), rel=0.1)


def test_only_available_agents_break_and_one_at_a_time() -> None:
    seen = router("support", agents=("2001", "2002"))
    schedule = DemoSchedule(
        with_breaks(break_every=5.0), ("2001", "2002"), random.Random(13), START
    )
    seen.handle(AgentPaused(START, "2002", "lunch"))  # someone else's pause: not our break
    on_break: set[str] = set()
    attempts = 0
    for _t, action in run(schedule, seen, START + 3600):
        if isinstance(action, Pause):
            assert not on_break
            assert action.agent_id == "2001"  # 2002 is not available
            on_break.add(action.agent_id)
        elif isinstance(action, Unpause):
            on_break.discard(action.agent_id)
        attempts += 1
    assert attempts > 10
    view = seen.agent("2002")
    assert view is not None
    assert view.state is AgentState.PAUSED
    assert view.pause_reason == "lunch"


def test_a_break_due_while_unavailable_is_tried_again_after_the_retry() -> None:
    seen = router("support", agents=("2001",))
    seen.handle(AgentPaused(START, "2001", "lunch"))
    schedule = DemoSchedule(with_breaks(patience_mean=0.0), ("2001",), random.Random(14), START)
    assert [type(a) for a in schedule.due(START, seen)] == [Arrive]  # the first caller
    first = schedule.next_due()
    # The callers' stream is far away (0.001 a minute): the next due is the break.
    assert schedule.due(first, seen) == []
    assert schedule.next_due() == first + BREAK_RETRY


def test_the_break_ends_only_what_it_started() -> None:
    seen = router("support", agents=("2001",))
    schedule = DemoSchedule(with_breaks(), ("2001",), random.Random(15), START)
    while True:
        due = schedule.next_due()
        assert due is not None
        pauses = [a for a in schedule.due(due, seen) if isinstance(a, Pause)]
        if pauses:
            break
    # A supervisor pauses the agent for lunch during its coffee: the break's end leaves it.
    seen.handle(AgentPaused(due, "2001", "lunch"))
    ends = run(schedule, seen, due + 3600)
    assert not [a for _, a in ends if isinstance(a, Unpause | Pause)]


def test_a_pause_that_was_deferred_by_a_call_is_cancelled_at_the_break_end() -> None:
    """The agent took a call between the schedule's look and the pause: the pause is pending
    until the call ends. The break's end unpauses (cancels) it, or the agent would stay
    paused for good."""
    seen = router("support", agents=("2001",))
    schedule = DemoSchedule(with_breaks(), ("2001",), random.Random(16), START)
    while True:
        due = schedule.next_due()
        assert due is not None
        pauses = [a for a in schedule.due(due, seen) if isinstance(a, Pause)]
        if pauses:
            break
    seen.handle(CallArrived(due, "c1", "support"))  # offered to 2001: reserved
    seen.handle(AgentPaused(due, "2001", pauses[0].reason))
    view = seen.agent("2001")
    assert view is not None
    assert view.pending == "pause"
    ends = [a for _, a in run(schedule, seen, due + 3600) if isinstance(a, Unpause)]
    assert ends == [Unpause("2001")]
