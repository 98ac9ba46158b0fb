"""A cluster's new leader records the old leader's calls that began and ended inside its last
unwritten batch: its replica knew them, the store never did, Asterisk no longer has them."""

from __future__ import annotations

from acd.engine import Step
from acd.observe.happenings import RecordHappening, VisitEnded, VisitOpened
from acd.observe.records import ENDED_UNOBSERVED, LOST_UNOBSERVED, CallRecorder
from acd.router.events import (
    AgentLoggedIn,
    AgentUpserted,
    CallAdopted,
    CallArrived,
    OfferAnswered,
    QueueUpserted,
)
from acd.router.model import CallState, QueueConfig
from acd.router.router import Router
from acd.storage.record_store import CallRecord


class Told(list[RecordHappening]):
    def on_record(self, happening: RecordHappening) -> None:
        self.append(happening)


def _old_leaders_router() -> Router:
    router = Router()
    router.handle(QueueUpserted(10.0, QueueConfig("support", skills={"support": 1})))
    router.handle(AgentUpserted(10.0, "a1", {"support": 1}))
    router.handle(AgentLoggedIn(10.0, "a1"))
    router.handle(CallArrived(11.0, "talking", "support"))
    router.handle(OfferAnswered(12.0, "talking", "a1"))
    router.handle(CallArrived(13.0, "waiting", "support"))
    router.handle(CallArrived(13.5, "stored", "support"))
    return router


def test_calls_nobody_recorded_get_one_final_record_each() -> None:
    replica = _old_leaders_router()
    new_router = Router()
    new_router.handle(QueueUpserted(20.0, QueueConfig("support", skills={"support": 1})))
    recorder = CallRecorder(new_router)
    told = Told()
    recorder.subscribe(told)
    stored = CallRecord("r1", "stored", 0, "support", 0, 13.5, 13.5, 20.0, 5.0)
    recorder.pending([stored])
    assert recorder.close_unadopted(20.0) == 1  # the stored one: its own rules
    told.clear()

    assert recorder.close_vanished(replica.calls(), 20.0) == 2
    opened = {h.record.call_id for h in told if isinstance(h, VisitOpened)}
    ended = {h.record.call_id: h.record for h in told if isinstance(h, VisitEnded)}
    assert opened == {"talking", "waiting"}
    assert set(ended) == {"talking", "waiting"}
    talking, waiting = ended["talking"], ended["waiting"]
    assert (talking.outcome, talking.exit_reason, talking.agent_id) == (
        "answered",
        ENDED_UNOBSERVED,
        "a1",
    )
    assert talking.arrived == 11.0
    assert (waiting.outcome, waiting.exit_reason) == ("abandoned", LOST_UNOBSERVED)
    assert waiting.arrived == 13.0
    assert recorder.close_vanished(replica.calls(), 21.0) == 0  # once


def test_a_call_the_resync_adopted_is_not_recorded_again() -> None:
    replica = _old_leaders_router()
    new_router = Router()
    new_router.handle(QueueUpserted(20.0, QueueConfig("support", skills={"support": 1})))
    recorder = CallRecorder(new_router)
    told = Told()
    recorder.subscribe(told)
    # The resync found the waiting caller's channel: adopted through the engine as usual.
    adopted = CallAdopted(20.0, "waiting", "support", CallState.WAITING, 13.0, 13.0)
    recorder.on_step(Step(adopted, new_router.handle(adopted)))
    told.clear()
    assert recorder.close_vanished(replica.calls(), 20.0) == 2  # talking and stored
    assert "waiting" not in {h.record.call_id for h in told}
