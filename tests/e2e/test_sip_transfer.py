"""A blind transfer between two real SIP agents, heard on the phones: real softphones (pjsua2)
for the caller and both agents, the real Asterisk, the real controller and its AMI link, the
transfer use case the API runs.

The caller dials 510 (an IVR that sets caller data with commas and a colon) into `support`;
agent 1001 (660 Hz) answers — its INVITE carried the call id and the caller data as X-ACD-*
headers. 1001 hands the caller on to `billing` with a note: 1001's phone is hung up, the
caller's call stays up and hears music while the specialist 1002 (880 Hz) rings, 1002's INVITE
carries the caller data and the note, 1002 answers, and the caller then hears 1002 and not
1001 (measured on what the caller's phone receives, Goertzel as in the monitor test).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from controller.harness import Acd

from acd.router.decisions import AgentStateChanged
from acd.router.events import AgentReachabilityChanged, CallEnded, OfferAnswered, TransferCompleted
from acd.router.model import AgentState, CallState
from acd.service.tokens import Principal

from .softphone import SoftphoneHost, sip_header, tone_level

pytestmark = pytest.mark.sip

CALLER_HZ, FIRST_HZ, SPECIALIST_HZ = 440, 660, 880
CALLER_DATA = "customer 4711 Müller, order 42: refund"
NOTE = "wants the refund of order 42 (paid twice)"
#: Share of the received energy at a frequency (see tone_level): heard above PRESENT, not
#: heard below ABSENT.
PRESENT, ABSENT = 0.1, 0.02
LISTEN_SECONDS = 2.0


async def logged_in(acd: Acd, phones: SoftphoneHost, agent_id: str, skills: dict[str, int],
                    tone_hz: int) -> None:  # fmt: skip
    await acd.agent(agent_id, contact=f"PJSIP/{agent_id}", skills=skills, login=False)
    mark = acd.steps.mark()
    await phones.register(agent_id, f"agent-{agent_id}", tone_hz=tone_hz)
    await acd.steps.event(
        lambda e: isinstance(e, AgentReachabilityChanged) and e.agent_id == agent_id
        and e.reachable,
        since=mark,
    )  # fmt: skip
    since = phones.events.mark()
    login = await phones.call(agent_id, "*71")
    await phones.state(login, "DISCONNECTED", since=since)
    await acd.steps.decision(
        lambda d: isinstance(d, AgentStateChanged) and d.agent_id == agent_id
        and d.state is AgentState.AVAILABLE
    )  # fmt: skip


async def heard(phones: SoftphoneHost, handle: int, path: Path) -> tuple[float, float]:
    """What the phone's call `handle` receives for LISTEN_SECONDS: the share of the first
    agent's and of the specialist's tone."""
    await phones.record(handle, path)
    await asyncio.sleep(LISTEN_SECONDS)
    await phones.stop_recording(handle)
    return tone_level(path, FIRST_HZ), tone_level(path, SPECIALIST_HZ)


async def test_a_blind_transfer_between_sip_agents_keeps_the_caller_and_carries_its_data(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    await acd.queue("support", skills={"support": 1}, wrap_up=30.0, ring_timeout=10.0)
    await acd.queue("billing", skills={"billing": 3}, ring_timeout=10.0)
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await logged_in(acd, phones, "1001", {"support": 5}, FIRST_HZ)
    await logged_in(acd, phones, "1002", {"billing": 5}, SPECIALIST_HZ)
    transfers = acd.transfers

    since = phones.events.mark()
    caller = await phones.call("caller", "510")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    first_leg, invite = incoming[2], incoming[3]
    call_id = sip_header(invite, "X-ACD-Call-Id")
    assert call_id is not None
    assert acd.router.call(call_id) is not None
    assert sip_header(invite, "X-ACD-Caller-Data") == CALLER_DATA
    assert sip_header(invite, "X-ACD-Transfer-Note") is None
    await phones.answer(first_leg)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1001")
    await phones.state(caller, "CONFIRMED", since=since)
    first_to_caller, _ = await heard(phones, caller, tmp_path / "before.wav")
    assert first_to_caller > PRESENT, "the caller does not hear the first agent"

    since = phones.events.mark()
    outcome = await transfers.transfer(
        Principal("ada", "agent", "1001"), call_id, {"queue": "billing", "note": NOTE}
    )
    assert (outcome.state, outcome.offered_to) == ("offered", "1002")
    await phones.state(first_leg, "DISCONNECTED", since=since)  # the first agent is freed
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002", since=since
    )
    specialist_leg, invite = incoming[2], incoming[3]
    assert sip_header(invite, "X-ACD-Call-Id") == call_id
    assert sip_header(invite, "X-ACD-Caller-Data") == CALLER_DATA
    assert sip_header(invite, "X-ACD-Transfer-Note") == NOTE
    # While the specialist rings, the caller is still there and hears music, not silence.
    packets = await phones.rx_packets(caller)
    await asyncio.sleep(0.5)
    assert await phones.rx_packets(caller) > packets
    assert not any(
        e[0] == "state" and e[1] == caller and e[2] == "DISCONNECTED"
        for e in phones.events.seen[since:]
    )
    await phones.answer(specialist_leg)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1002")
    await phones.state(specialist_leg, "CONFIRMED", since=since)
    first_to_caller, specialist_to_caller = await heard(phones, caller, tmp_path / "after.wav")
    print(f"caller hears: first agent {first_to_caller:.3f}, specialist {specialist_to_caller:.3f}")
    assert specialist_to_caller > PRESENT, "the caller does not hear the specialist"
    assert first_to_caller < ABSENT, "the caller still hears the first agent"

    view = acd.router.call(call_id)
    assert view is not None
    assert (view.queue, view.state, view.agent_id) == ("billing", CallState.CONNECTED, "1002")
    first = acd.router.agent("1001")
    assert first is not None
    assert first.state is AgentState.WRAP_UP
    await phones.hangup(caller)


async def test_the_agent_hands_the_caller_on_with_the_softphones_feature_code(
    acd: Acd, phones: SoftphoneHost
) -> None:
    """*8, then the target queue's transfer_code and #, keyed on the agent's phone during
    the call (RFC 4733 events, as a keypad sends them)."""
    await acd.queue("support", skills={"support": 1}, wrap_up=30.0, ring_timeout=10.0)
    await acd.queue("billing", skills={"billing": 3}, ring_timeout=10.0, transfer_code="22")
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await logged_in(acd, phones, "1001", {"support": 5}, FIRST_HZ)
    await logged_in(acd, phones, "1002", {"billing": 5}, SPECIALIST_HZ)

    since = phones.events.mark()
    caller = await phones.call("caller", "500")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    first_leg, call_id = incoming[2], sip_header(incoming[3], "X-ACD-Call-Id")
    await phones.answer(first_leg)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1001")
    await phones.state(caller, "CONFIRMED", since=since)

    since = phones.events.mark()
    await phones.dtmf(first_leg, "*8")
    await asyncio.sleep(1.0)  # the feature answers with a beep, then reads the code
    await phones.dtmf(first_leg, "22#")
    await phones.state(first_leg, "DISCONNECTED", since=since)
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002", since=since
    )
    assert sip_header(incoming[3], "X-ACD-Call-Id") == call_id
    await phones.answer(incoming[2])
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1002")
    assert not any(
        e[0] == "state" and e[1] == caller and e[2] == "DISCONNECTED"
        for e in phones.events.seen[since:]
    )
    view = acd.router.call(call_id or "")
    assert view is not None
    assert (view.queue, view.agent_id) == ("billing", "1002")
    await phones.hangup(caller)


# --- warm transfer ---------------------------------------------------------------------------


async def _talking_to_first(acd: Acd, phones: SoftphoneHost) -> tuple[int, int, str]:
    """Queues, the three phones, a 510 caller talking to 1001: (caller, first leg, call id)."""
    await acd.queue("support", skills={"support": 1}, wrap_up=30.0, ring_timeout=10.0)
    await acd.queue("billing", skills={"billing": 3}, ring_timeout=10.0)
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await logged_in(acd, phones, "1001", {"support": 5}, FIRST_HZ)
    await logged_in(acd, phones, "1002", {"billing": 5}, SPECIALIST_HZ)
    since = phones.events.mark()
    caller = await phones.call("caller", "510")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    first_leg, call_id = incoming[2], sip_header(incoming[3], "X-ACD-Call-Id")
    assert call_id is not None
    await phones.answer(first_leg)
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.agent_id == "1001")
    await phones.state(caller, "CONFIRMED", since=since)
    return caller, first_leg, call_id


async def _consulting(acd: Acd, phones: SoftphoneHost, call_id: str) -> tuple[int, str]:
    """A warm transfer to billing started and answered by 1002: (its leg, consult id)."""
    since, mark = phones.events.mark(), acd.steps.mark()
    outcome = await acd.transfers.transfer(
        Principal("ada", "agent", "1001"), call_id, {"queue": "billing", "warm": True, "note": NOTE}
    )
    assert outcome.state == "consulting"
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002", since=since
    )
    specialist_leg, invite = incoming[2], incoming[3]
    assert sip_header(invite, "X-ACD-Caller-Data") == CALLER_DATA
    assert sip_header(invite, "X-ACD-Transfer-Note") == NOTE
    consult_id = sip_header(invite, "X-ACD-Call-Id")
    assert consult_id is not None
    assert consult_id != call_id
    await phones.answer(specialist_leg)
    await acd.steps.event(
        lambda e: isinstance(e, OfferAnswered) and e.call_id == consult_id, since=mark
    )
    await phones.state(specialist_leg, "CONFIRMED", since=since)
    return specialist_leg, consult_id


async def test_a_warm_transfer_lets_the_agents_talk_first_then_joins_the_caller(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    caller, first_leg, call_id = await _talking_to_first(acd, phones)
    specialist_leg, consult_id = await _consulting(acd, phones, call_id)
    # The two agents talk; the caller, on hold with music, hears neither of them.
    first_hears = await heard(phones, first_leg, tmp_path / "first.wav")
    caller_hears = await heard(phones, caller, tmp_path / "held.wav")
    print(f"first agent hears {first_hears}, held caller hears {caller_hears}")
    assert first_hears[1] > PRESENT, "the first agent does not hear the specialist"
    assert max(caller_hears) < ABSENT, "the held caller hears an agent"
    view = acd.router.call(call_id)
    assert view is not None
    assert (view.state, view.agent_id) == (CallState.CONNECTED, "1001")

    since, mark = phones.events.mark(), acd.steps.mark()
    outcome = await acd.transfers.complete(Principal("ada", "agent", "1001"), call_id)
    assert outcome.state == "completing"
    await phones.state(first_leg, "DISCONNECTED", since=since)
    await acd.steps.event(lambda e: isinstance(e, TransferCompleted), since=mark)
    first_to_caller, specialist_to_caller = await heard(phones, caller, tmp_path / "joined.wav")
    print(f"joined caller hears first {first_to_caller:.3f}, specialist {specialist_to_caller:.3f}")
    assert specialist_to_caller > PRESENT, "the caller does not hear the specialist"
    assert first_to_caller < ABSENT
    view = acd.router.call(call_id)
    assert view is not None
    assert (view.queue, view.state, view.agent_id) == ("billing", CallState.CONNECTED, "1002")
    assert acd.router.call(consult_id) is None
    first = acd.router.agent("1001")
    assert first is not None
    assert first.state is AgentState.WRAP_UP
    # The specialist's hang-up ends the call (its legs are the call's now).
    mark = acd.steps.mark()
    await phones.hangup(specialist_leg)
    await acd.steps.event(lambda e: isinstance(e, CallEnded) and e.call_id == call_id, since=mark)


async def test_a_cancelled_warm_transfer_returns_the_agent_to_the_caller(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    caller, first_leg, call_id = await _talking_to_first(acd, phones)
    specialist_leg, consult_id = await _consulting(acd, phones, call_id)
    since = phones.events.mark()
    outcome = await acd.transfers.cancel(Principal("ada", "agent", "1001"), call_id)
    assert outcome.state == "cancelling"
    await phones.state(specialist_leg, "DISCONNECTED", since=since)
    for _ in range(100):
        if acd.router.call(consult_id) is None:
            break
        await asyncio.sleep(0.05)
    assert acd.router.call(consult_id) is None
    first_to_caller, _ = await heard(phones, caller, tmp_path / "back.wav")
    assert first_to_caller > PRESENT, "the caller is not back with the first agent"
    view = acd.router.call(call_id)
    assert view is not None
    assert (view.queue, view.state, view.agent_id) == ("support", CallState.CONNECTED, "1001")
    assert not any(
        e[0] == "state" and e[1] in (caller, first_leg) and e[2] == "DISCONNECTED"
        for e in phones.events.seen[since:]
    )


async def test_a_warm_transfer_the_agent_leaves_before_the_specialist_answers_goes_on_blind(
    acd: Acd, phones: SoftphoneHost, tmp_path: Path
) -> None:
    """The first agent hangs up its phone while the specialist still rings: Asterisk joins
    the caller to the unanswered consultation, which cannot become the call; the caller is
    handed on blind into the consultation's queue instead, never lost."""
    caller, first_leg, call_id = await _talking_to_first(acd, phones)
    since = phones.events.mark()
    outcome = await acd.transfers.transfer(
        Principal("ada", "agent", "1001"), call_id, {"queue": "billing", "warm": True}
    )
    assert outcome.state == "consulting"
    await phones.events.first(lambda e: e[0] == "incoming" and e[1] == "1002", since=since)
    since, mark = phones.events.mark(), acd.steps.mark()
    await phones.hangup(first_leg)  # the agent walks away from the consultation
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002"
        and sip_header(e[3], "X-ACD-Call-Id") == call_id,
        since=since,
    )  # fmt: skip
    await phones.answer(incoming[2])
    await acd.steps.event(
        lambda e: isinstance(e, OfferAnswered) and e.call_id == call_id, since=mark
    )
    _, specialist_to_caller = await heard(phones, caller, tmp_path / "blind.wav")
    assert specialist_to_caller > PRESENT, "the caller does not hear the specialist"
    view = acd.router.call(call_id)
    assert view is not None
    assert (view.queue, view.state, view.agent_id) == ("billing", CallState.CONNECTED, "1002")
    assert not any(
        e[0] == "state" and e[1] == caller and e[2] == "DISCONNECTED"
        for e in phones.events.seen[since:]
    )


async def test_keep_place_puts_a_transferred_sip_caller_ahead_of_a_later_one(
    acd: Acd, phones: SoftphoneHost
) -> None:
    """Two SIP calls from the caller's phone: the first, talking to 1001 in support, is
    handed on to sales keeping its place, where a later call (501) already waits; the sales
    agent, once back, gets the first one; then its transfer into a queue nobody can serve
    (join_empty off) sends it to that queue's exit, as an arrival there would be."""
    await acd.queue("support", skills={"support": 1}, wrap_up=30.0, ring_timeout=10.0)
    await acd.queue("sales", skills={"sales": 3}, ring_timeout=10.0)
    await acd.queue("legal", skills={"legal": 1}, join_empty=False)
    await phones.register("caller", "caller-secret", tone_hz=CALLER_HZ)
    await logged_in(acd, phones, "1001", {"support": 5}, FIRST_HZ)
    await logged_in(acd, phones, "1002", {"sales": 5}, SPECIALIST_HZ)
    await acd.agents.pause("1002", "lunch")
    since = phones.events.mark()
    early = await phones.call("caller", "500")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1001", since=since
    )
    early_id = sip_header(incoming[3], "X-ACD-Call-Id")
    assert early_id is not None
    await phones.answer(incoming[2])
    await acd.steps.event(lambda e: isinstance(e, OfferAnswered) and e.call_id == early_id)
    mark = acd.steps.mark()
    later = await phones.call("caller", "501")  # sales: 1002 is paused, it waits
    arrived = await acd.steps.event(
        lambda e: type(e).__name__ == "CallArrived" and e.queue == "sales", since=mark
    )
    outcome = await acd.transfers.transfer(
        Principal("ada", "agent", "1001"), early_id, {"queue": "sales", "keep_place": True}
    )
    assert outcome.state == "waiting"
    assert acd.router.position(early_id) == 1
    assert acd.router.position(arrived.call_id) == 2

    since, mark = phones.events.mark(), acd.steps.mark()
    await acd.agents.unpause("1002")
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002", since=since
    )
    assert sip_header(incoming[3], "X-ACD-Call-Id") == early_id  # the earlier caller first
    await phones.answer(incoming[2])
    await acd.steps.event(
        lambda e: isinstance(e, OfferAnswered) and e.call_id == early_id, since=mark
    )

    # Handed on again, into legal, which nobody can serve and which turns such callers away:
    # the caller leaves by that queue's rule (its exit: a goodbye, then the line drops).
    since = phones.events.mark()
    outcome = await acd.transfers.transfer(
        Principal("bob", "agent", "1002"), early_id, {"queue": "legal"}
    )
    assert (outcome.state, outcome.exit_reason) == ("exited", "join_empty")
    await phones.state(early, "DISCONNECTED", since=since)
    assert acd.router.call(early_id) is None
    # 1002 is free again (sales has no wrap-up here): the later caller is next.
    incoming = await phones.events.first(
        lambda e: e[0] == "incoming" and e[1] == "1002", since=since
    )
    assert sip_header(incoming[3], "X-ACD-Call-Id") == arrived.call_id
    await phones.hangup(later)
