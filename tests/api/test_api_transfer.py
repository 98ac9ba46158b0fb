"""POST /calls/{id}/transfer over the real wiring (real Router, Engine, SQLite), with the
controller's side replaced by a recorder (the real move of the caller is exercised against
Asterisk in tests/controller/test_transfer_live.py and tests/e2e): roles, errors, what the
router did."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
from api_support import Api, issue

from acd.compose import Assembly
from acd.errors import Invalid, NotOnCall
from acd.router.events import AgentLoggedIn, AgentUpserted, CallArrived, OfferAnswered
from acd.router.model import CallState


@dataclass
class FakeLine:
    up: bool = True
    notes: dict[str, str] = field(default_factory=dict)

    def bridged(self, call_id: str) -> bool:
        return self.up

    legs: dict[str, str] = field(default_factory=dict)

    def noted(self, call_id: str, note: str) -> None:
        self.notes[call_id] = note

    def call_of_agent_leg(self, uniqueid: str) -> str | None:
        return self.legs.get(uniqueid)

    actions: list[tuple[str, str]] = field(default_factory=list)

    async def consult(self, call_id: str, number: str) -> str | None:
        self.actions.append(("consult", number))
        return None

    def consultation_entered(
        self, call_id: str, consult_id: str, queue: str, skills: object
    ) -> str | None:
        self.actions.append(("entered", consult_id))
        return "Local/caller;2"

    async def complete(self, call_id: str) -> str | None:
        self.actions.append(("complete", call_id))
        return None

    async def cancel(self, consult_id: str) -> str | None:
        self.actions.append(("cancel", consult_id))
        return None


@pytest.fixture
def line(assembly: Assembly) -> FakeLine:
    fake = FakeLine()
    assembly.services.transfers.attach(fake)
    return fake


async def connected(assembly: Assembly, call_id: str = "c1") -> None:
    """Agent 1001 (support 5) talks to a support caller."""
    engine = assembly.engine
    await engine.submit(lambda now: AgentLoggedIn(now, "1001"))
    await engine.submit(lambda now: CallArrived(now, call_id, "support"))
    await engine.submit(lambda now: OfferAnswered(now, call_id, "1001"))
    view = engine.router.call(call_id)
    assert view is not None
    assert view.state is CallState.CONNECTED


def transfer(call_id: str = "c1") -> str:
    return f"/api/v1/calls/{call_id}/transfer"


async def test_a_transfer_frees_the_agent_and_offers_the_caller_to_a_specialist(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await connected(assembly)
    await assembly.engine.submit(lambda now: AgentLoggedIn(now, "1002"))  # sales 3
    status, body = await api.post(
        transfer(), {"queue": "sales", "note": "wants a quote", "keep_place": True}
    )
    assert status == 200, body
    assert body == {
        "call_id": "c1",
        "from_queue": "support",
        "to_queue": "sales",
        "from_agent": "1001",
        "keep_place": True,
        "state": "offered",
        "offered_to": "1002",
        "exit_reason": None,
        "consult_id": None,
    }
    assert line.notes == {"c1": "wants a quote"}
    status, agent = await api.get("/api/v1/agents/1001")
    assert agent["state"] == "available"  # support's wrap-up is 0: over at once
    status, call = await api.get("/api/v1/calls/c1")
    assert (call["queue"], call["state"], call["agent_id"]) == ("sales", "offered", "1002")
    # The next agent's panel reads the note (and the caller data) off the live call.
    assert call["caller"]["transfer_note"] == "wants a quote"


async def test_a_transfer_to_skills_only_keeps_the_queue_and_waits(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await connected(assembly)
    status, body = await api.post(transfer(), {"skills": {"german": 2}})
    assert status == 200, body
    assert (body["to_queue"], body["state"], body["offered_to"]) == ("support", "waiting", None)
    status, call = await api.get("/api/v1/calls/c1")
    assert call["requirements"] == {"german": 2, "support": 1}
    assert call["extra_skills"] == {"german": 2}


async def test_an_agent_may_transfer_its_own_call_only(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await connected(assembly)
    other = api.as_token(await issue(api, "bob", "agent", "1002"))
    status, body = await other.post(transfer(), {"queue": "sales"})
    assert (status, body["error"]["code"]) == (403, "not_your_call")
    reader = api.as_token(await issue(api, "wall", "reader"))
    status, body = await reader.post(transfer(), {"queue": "sales"})
    assert (status, body["error"]["code"]) == (403, "forbidden")
    own = api.as_token(await issue(api, "ada", "agent", "1001"))
    status, body = await own.post(transfer(), {"queue": "sales"})
    assert (status, body["state"]) == (200, "waiting"), body


@pytest.mark.parametrize(
    ("body", "status", "code", "field"),
    [
        ({}, 422, "invalid", "transfer.skills"),
        ({"queue": "nowhere"}, 422, "unknown_queue", "queue"),
        ({"queue": "sales", "note": "line\r\nAction: Originate"}, 422, "invalid", "transfer.note"),
        ({"queue": "sales", "keep_place": "yes"}, 422, "invalid", "transfer.keep_place"),
        ({"queue": "sales", "skills": {"x": 11}}, 422, "invalid", "transfer.skills.x"),
        ({"queue": "sales", "to": "x"}, 422, "invalid", "transfer.to"),
        ([], 422, "invalid", "transfer"),
    ],
)
async def test_bad_bodies_are_refused_and_the_call_stays(
    api: Api, assembly: Assembly, line: FakeLine, body: object, status: int, code: str, field: str
) -> None:
    await connected(assembly)
    got, answer = await api.call("POST", transfer(), body, check_request=False)
    assert (got, answer["error"]["code"], answer["error"].get("field")) == (status, code, field)
    assert assembly.engine.router.call("c1").state is CallState.CONNECTED  # type: ignore[union-attr]
    assert line.notes == {}


async def test_unknown_waiting_or_unmovable_calls_are_refused(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    status, body = await api.post(transfer("nobody"), {"queue": "sales"})
    assert (status, body["error"]["code"]) == (404, "unknown_call")
    await assembly.engine.submit(lambda now: CallArrived(now, "w1", "sales"))  # nobody: waits
    status, body = await api.post(transfer("w1"), {"queue": "support"})
    assert (status, body["error"]["code"]) == (409, "call_not_connected")
    await connected(assembly)
    line.up = False
    status, body = await api.post(transfer(), {"queue": "sales"})
    assert (status, body["error"]["code"]) == (503, "asterisk_unavailable")
    assert assembly.engine.router.call("c1").state is CallState.CONNECTED  # type: ignore[union-attr]


async def test_a_transfer_code_names_one_queue(api: Api) -> None:
    status, _ = await api.put(
        "/api/v1/queues/sales", {"skills": {"sales": 1}, "transfer_code": "7"}
    )
    assert status == 200
    status, body = await api.put("/api/v1/queues/support", {"transfer_code": "7"})
    assert (status, body["error"]["code"]) == (409, "transfer_code_in_use")
    status, body = await api.post("/api/v1/queues", {"name": "other", "transfer_code": "7"})
    assert (status, body["error"]["code"]) == (409, "transfer_code_in_use")
    status, _ = await api.put(
        "/api/v1/queues/sales", {"skills": {"sales": 1}, "transfer_code": "7"}
    )
    assert status == 200  # its own code again
    status, queue = await api.get("/api/v1/queues/sales")
    assert queue["transfer_code"] == "7"


async def test_the_feature_code_hands_the_agents_call_on_keeping_its_place(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await api.put("/api/v1/queues/sales", {"skills": {"sales": 1}, "transfer_code": "22"})
    await connected(assembly)
    transfers = assembly.services.transfers
    with pytest.raises(Invalid) as wrong:
        await transfers.transfer_by_code("1001", "99")
    assert wrong.value.code == "unknown_transfer_code"
    with pytest.raises(NotOnCall):
        await transfers.transfer_by_code("1002", "22")
    # Keyed on a leg that is not this call's agent leg (another call, or none): refused.
    with pytest.raises(NotOnCall):
        await transfers.transfer_by_code("1001", "22", "some-other-leg")
    line.legs["leg-1001"] = "c1"
    outcome = await transfers.transfer_by_code("1001", "22", "leg-1001")
    assert (outcome.to_queue, outcome.keep_place, outcome.state) == ("sales", True, "waiting")


async def test_a_warm_transfer_consults_first_and_completes_only_once_answered(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await connected(assembly)
    status, body = await api.post(
        transfer(), {"queue": "sales", "warm": True, "skills": {"german": 2}, "note": "hi"}
    )
    assert (status, body["state"], body["to_queue"]) == (202, "consulting", "sales"), body
    [(kind, number)] = line.actions
    assert kind == "consult"
    status, body = await api.post(transfer(), {"queue": "sales", "warm": True})
    assert (status, body["error"]["code"]) == (409, "consult_in_progress")
    status, body = await api.post(transfer() + "/complete")
    assert (status, body["error"]["code"]) == (409, "consult_not_answered")
    status, body = await api.post(transfer() + "/cancel")
    assert (status, body["error"]["code"]) == (409, "consult_not_ready")

    # The consultation's channel enters acd-consult,<number>: what it carries.
    transfers = assembly.services.transfers
    assert transfers.consult_entered("99999999", "k1") is None  # no such consultation
    carried = transfers.consult_entered(number, "k1")
    assert carried is not None
    assert carried["ACD_CONSULT_QUEUE"] == "sales"
    assert carried["ACD_CONSULT_OF"] == "c1"
    assert carried["ACD_CONSULT_CALLER"] == "Local/caller;2"
    assert carried["ACD_SKILLS"] == "german:2"
    assert carried["ACD_TRANSFER_NOTE"] == "hi"
    assert transfers.consult_entered(number, "k2") is None  # once only
    engine = assembly.engine
    await engine.submit(lambda now: CallArrived(now, "k1", "sales", extra_skills={"german": 2}))
    await engine.submit(lambda now: AgentUpserted(now, "1002", {"sales": 3, "german": 2}))
    await engine.submit(lambda now: AgentLoggedIn(now, "1002"))
    await engine.submit(lambda now: OfferAnswered(now, "k1", "1002"))
    status, body = await api.post(transfer() + "/complete")
    assert (status, body["state"], body["offered_to"], body["consult_id"]) == (
        202,
        "completing",
        "1002",
        "k1",
    )
    assert line.actions[-1] == ("complete", "c1")


async def test_a_warm_transfer_can_be_cancelled_and_keep_place_is_refused(
    api: Api, assembly: Assembly, line: FakeLine
) -> None:
    await connected(assembly)
    status, body = await api.call(
        "POST", transfer(), {"queue": "sales", "warm": True, "keep_place": True},
        check_request=False,
    )  # fmt: skip
    assert (status, body["error"]["field"]) == (422, "keep_place")
    status, body = await api.post(transfer() + "/cancel")
    assert (status, body["error"]["code"]) == (409, "no_consultation")
    await api.post(transfer(), {"queue": "sales", "warm": True})
    number = line.actions[0][1]
    assembly.services.transfers.consult_entered(number, "k1")
    status, body = await api.post(transfer() + "/cancel")  # entering: still cancellable
    assert (status, body["state"]) == (202, "cancelling")
    assert line.actions[-1] == ("cancel", "k1")
    status, body = await api.post(transfer() + "/cancel")
    assert (status, body["error"]["code"]) == (409, "no_consultation")
