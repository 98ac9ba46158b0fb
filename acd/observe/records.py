"""The recorder: an Engine listener that turns router steps into call records, agent state
intervals, queue_log lines and metrics.

`on_step` runs on the engine task and never blocks: it updates the in-memory records and the
metrics at once, and buffers rows and queue_log lines for one background writer task (kept in
`self._task`) that writes them in order. `await flush()` waits until everything buffered so far
is written (tests, shutdown); `await load()` at start closes what a previous run left open and
replays the stored records into the metrics, so counters survive a restart.

Definitions (CONTRACT.md): a record is one call's visit to one queue (see
`acd.storage.record_store`). offered = entered the queue (by arrival or overflow); answered =
connected; abandoned = the caller left while waiting or ringing after the queue's
`short_abandon` seconds, earlier ones are short abandons; wait = entry into this queue →
answer, abandon, exit or overflow; talk = answer → hangup; handle = talk + wrap-up, where
wrap-up = hangup → the agent leaving WRAP_UP. An overflow ends the source visit as
`overflowed` (wait up to the overflow) and starts a new visit in the target, offered there,
whose wait counts from the overflow: each queue is measured on the time the call spent in it.

Called by the controller (all take the router's call id; unknown ids are ignored or, where
the call may not have arrived yet, kept for its arrival):
    callback_requested(call_id)    the caller pressed for a callback (counted once per visit)
    caller_data(call_id, text)     ACD_CALLER_DATA, kept with the record (may precede arrival)
    exit_with_key(call_id, key)    call before posting the CallAbandoned the key press causes:
                                   the visit then ends as `exited` (reason `key`, EXITWITHKEY)
                                   instead of abandoned
    hung_up_by(call_id, side)      "caller" or "agent", before posting CallEnded: chooses
                                   COMPLETECALLER / COMPLETEAGENT (unknown: COMPLETECALLER)
    set_ami_connected(connected)   drives acd_ami_connected
For the API: `caller_info(call_id)` (live calls) and `await get_call(call_id)` (any call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol

from acd.engine import Step
from acd.observe.kpi import is_short_abandon
from acd.observe.metrics import Metrics
from acd.observe.queue_log import QueueLog, format_line
from acd.router.decisions import (
    AgentStateChanged,
    CallExited,
    CallOverflowed,
    Decision,
    EventRejected,
    OfferCall,
)
from acd.router.events import (
    CallAbandoned,
    CallArrived,
    CallEnded,
    Event,
    OfferAnswered,
    OfferFailed,
    QueueUpserted,
)
from acd.router.model import AgentState, CallView, QueueConfig
from acd.storage.record_store import AgentInterval, CallRecord, RecordStore

log = logging.getLogger(__name__)

_EARLY_LIMIT = 1000  # details for calls that have not arrived yet; oldest dropped beyond this
#: The writer gathers rows for up to BATCH_DELAY seconds (or BATCH_ROWS rows, or until
#: someone awaits flush()) and writes them in one transaction: at 50 calls/s a transaction
#: per step cost more CPU than all the routing. A crash loses at most that much.
BATCH_DELAY = 0.25
BATCH_ROWS = 500
_EXIT_EVENTS = {
    "timeout": "EXITWITHTIMEOUT",
    "join_empty": "EXITEMPTY",
    "leave_empty": "EXITEMPTY",
    "queue_removed": "EXITEMPTY",
}


class RouterView(Protocol):
    def queue(self, name: str) -> QueueConfig | None: ...
    def call(self, call_id: str) -> CallView | None: ...
    def position(self, call_id: str) -> int | None: ...


@dataclass(slots=True)
class _Visit:
    record: CallRecord
    position: int
    ring_started: float | None = None
    exit_key: str | None = None


@dataclass(slots=True)
class _Early:
    caller_data: str | None = None
    exit_key: str | None = None


class Recorder:
    def __init__(
        self,
        metrics: Metrics,
        store: RecordStore | None = None,
        queue_log: QueueLog | None = None,
        router: RouterView | None = None,
        clock: Callable[[], float] = time.time,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
        batch_delay: float = BATCH_DELAY,
    ) -> None:
        self.metrics = metrics
        self.store = store
        self.queue_log = queue_log
        self.router = router
        self._clock = clock
        self._new_id = new_id
        self._configs: dict[str, QueueConfig] = {}
        self._visits: dict[str, _Visit] = {}  # live calls by call id
        self._wrapping: dict[str, _Visit] = {}  # ended calls by agent, until wrap-up ends
        self._intervals: dict[str, AgentInterval] = {}  # each agent's open interval
        self._agent_states: dict[str, tuple[AgentState, str | None]] = {}
        self._reserved_at: dict[str, float] = {}
        self._early: OrderedDict[str, _Early] = OrderedDict()
        # Write buffer: latest snapshot per row id (insertion-ordered), queue_log lines.
        self._pending_calls: dict[str, CallRecord] = {}
        self._pending_intervals: dict[str, AgentInterval] = {}
        self._pending_lines: list[str] = []
        self._buffered = 0  # steps buffered so far
        self._written = 0  # steps written so far
        self._batch_delay = batch_delay
        self._dirty = asyncio.Event()
        self._urgent = asyncio.Event()  # write now: a flush() waits, or the batch is full
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    # --- start and stop -------------------------------------------------------------------

    async def load(self) -> None:
        """Close what a previous run left open and restore the counters from the records."""
        if self.store is None:
            return
        await self.store.close_open(self._clock())
        for record in await self.store.all_calls():
            self._replay(record)

    def _replay(self, record: CallRecord) -> None:
        m, queue = self.metrics, record.queue
        if record.exit_reason != "unknown_queue":
            m.offered(queue)
        if record.answered is not None and record.wait is not None:
            m.answered(queue, record.answered, record.wait, record.sl_threshold)
        elif record.outcome == "abandoned" and record.wait is not None:
            m.abandoned(queue, record.ended or record.entered, record.wait, record.sl_threshold)
        elif record.outcome == "short_abandoned":
            m.short_abandoned(queue)
        elif record.outcome == "overflowed":
            m.overflowed(queue)
        if record.callback_requested:
            m.callback_requested(queue)
        if record.talk is not None:
            m.talked(queue, record.talk)
            if record.wrap_up is not None:
                m.handled(queue, record.talk + record.wrap_up)

    async def flush(self) -> None:
        """Return once every step seen so far is written (raises nothing; errors are logged)."""
        target = self._buffered
        self._ensure_writer()
        self._dirty.set()
        self._urgent.set()
        while self._written < target:
            self._progress.clear()
            await self._progress.wait()

    async def close(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.queue_log is not None:
            self.queue_log.close()

    # --- the listener ---------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        if any(isinstance(d, EventRejected) for d in step.decisions):
            return  # the router changed nothing
        try:
            self._event(step.event, step.decisions)
            for decision in step.decisions:
                self._decision(decision, step.event.now)
        finally:
            self._buffered += 1
            self._wake()

    def _event(self, event: Event, decisions: Any) -> None:
        if isinstance(event, QueueUpserted):
            self._configs[event.queue.name] = event.queue
        elif isinstance(event, CallArrived):
            unknown = any(
                isinstance(d, CallExited) and d.reason == "unknown_queue" for d in decisions
            )
            self._arrived(event, unknown)
        elif isinstance(event, OfferAnswered):
            self._answered(event)
        elif isinstance(event, OfferFailed):
            self._offer_failed(event)
        elif isinstance(event, CallAbandoned):
            self._abandoned(event)
        elif isinstance(event, CallEnded):
            self._ended(event)

    def _decision(self, decision: Decision, now: float) -> None:
        if isinstance(decision, AgentStateChanged):
            self._agent_changed(decision)
        elif isinstance(decision, OfferCall):
            self._offered(decision, now)
        elif isinstance(decision, CallOverflowed):
            self._overflowed(decision)
        elif isinstance(decision, CallExited):
            self._exited(decision)

    # --- calls ------------------------------------------------------------------------------

    def _config(self, queue: str) -> QueueConfig:
        config = self.router.queue(queue) if self.router is not None else None
        return config or self._configs.get(queue) or QueueConfig(queue)

    def _position(self, call_id: str) -> int:
        position = self.router.position(call_id) if self.router is not None else None
        return position or 1  # not waiting: it was offered (or turned away) at once

    def _arrived(self, event: CallArrived, unknown_queue: bool) -> None:
        config = self._config(event.queue)
        view = self.router.call(event.call_id) if self.router is not None else None
        priority = event.priority if event.priority is not None else config.priority
        early = self._early.pop(event.call_id, _Early())
        record = CallRecord(
            id=self._new_id(),
            call_id=event.call_id,
            leg=0,
            queue=event.queue,
            priority=view.priority if view is not None else priority,
            arrived=event.now,
            entered=event.now,
            sl_threshold=config.sl_threshold,
            short_abandon=config.short_abandon,
            caller_data=early.caller_data,
        )
        visit = _Visit(record, self._position(event.call_id), exit_key=early.exit_key)
        self._visits[event.call_id] = visit
        if not unknown_queue:
            self.metrics.offered(event.queue)
            self._line(event.now, visit, "ENTERQUEUE", "", "", visit.position)
        self._save(visit)

    def _offered(self, offer: OfferCall, now: float) -> None:
        visit = self._visits.get(offer.call_id)
        at = self._reserved_at.get(offer.agent_id, now)
        self.metrics.dispatched(self._clock() - at)
        if visit is None:
            return
        visit.ring_started = at
        if visit.record.offered is None:
            visit.record = replace(visit.record, offered=at)
            self._save(visit)

    def _answered(self, event: OfferAnswered) -> None:
        visit = self._visits.get(event.call_id)
        if visit is None:
            return
        record = visit.record
        wait = event.now - record.entered
        visit.record = replace(
            record, answered=event.now, agent_id=event.agent_id, outcome="answered", wait=wait
        )
        self.metrics.answered(record.queue, event.now, wait, record.sl_threshold)
        ring = event.now - visit.ring_started if visit.ring_started is not None else 0.0
        self._line(event.now, visit, "CONNECT", wait, "", ring, agent=event.agent_id)
        self._save(visit)

    def _offer_failed(self, event: OfferFailed) -> None:
        visit = self._visits.get(event.call_id)
        if visit is None:
            return
        visit.record = replace(visit.record, rona_count=visit.record.rona_count + 1)
        ring_ms = 0 if visit.ring_started is None else int((event.now - visit.ring_started) * 1000)
        visit.ring_started = None
        self._line(event.now, visit, "RINGNOANSWER", ring_ms, agent=event.agent_id)
        self._save(visit)

    def _abandoned(self, event: CallAbandoned) -> None:
        visit = self._visits.pop(event.call_id, None)
        if visit is None:
            return
        record = visit.record
        wait = event.now - record.entered
        where = (visit.position, visit.position, wait)
        if visit.exit_key is not None:
            outcome, reason = "exited", "key"
            self._line(event.now, visit, "EXITWITHKEY", visit.exit_key, *where)
        elif is_short_abandon(wait, record.short_abandon):
            outcome, reason = "short_abandoned", event.reason
            self.metrics.short_abandoned(record.queue)
            self._line(event.now, visit, "ABANDON", *where)
        else:
            outcome, reason = "abandoned", event.reason
            self.metrics.abandoned(record.queue, event.now, wait, record.sl_threshold)
            self._line(event.now, visit, "ABANDON", *where)
        visit.record = replace(
            record,
            ended=event.now,
            outcome=outcome,
            exit_reason=reason,
            exit_key=visit.exit_key,
            wait=wait,
        )
        self._save(visit)

    def _ended(self, event: CallEnded) -> None:
        visit = self._visits.get(event.call_id)
        answered = None if visit is None else visit.record.answered
        if visit is None or answered is None:
            return  # the router rejects a CallEnded for a call that is not connected
        del self._visits[event.call_id]
        record = visit.record
        talk = event.now - answered
        visit.record = replace(record, ended=event.now, talk=talk)
        self.metrics.talked(record.queue, talk)
        side = "COMPLETEAGENT" if record.hung_up_by == "agent" else "COMPLETECALLER"
        self._line(event.now, visit, side, record.wait, talk, visit.position, agent=record.agent_id)
        self._save(visit)
        if record.agent_id is not None:
            self._wrapping[record.agent_id] = visit

    def _wrap_up_ended(self, agent_id: str, at: float) -> None:
        visit = self._wrapping.pop(agent_id, None)
        if visit is None:
            return
        ended, talk = visit.record.ended, visit.record.talk
        if ended is None or talk is None:
            return
        wrap_up = max(0.0, at - ended)
        visit.record = replace(visit.record, wrap_up=wrap_up)
        self.metrics.handled(visit.record.queue, talk + wrap_up)
        self._save(visit)

    def _overflowed(self, decision: CallOverflowed) -> None:
        visit = self._visits.pop(decision.call_id, None)
        if visit is None:
            return
        record = visit.record
        wait = decision.at - record.entered
        visit.record = replace(
            record,
            ended=decision.at,
            outcome="overflowed",
            overflowed_to=decision.to_queue,
            wait=wait,
        )
        self.metrics.overflowed(record.queue)
        self._line(decision.at, visit, "EXITWITHTIMEOUT", visit.position, visit.position, wait)
        self._save(visit)

        config = self._config(decision.to_queue)
        following = _Visit(
            replace(
                record,
                id=self._new_id(),
                leg=record.leg + 1,
                queue=decision.to_queue,
                entered=decision.at,
                sl_threshold=config.sl_threshold,
                short_abandon=config.short_abandon,
                rona_count=0,
                callback_requested=False,
            ),
            self._position(decision.call_id),
            exit_key=visit.exit_key,
        )
        self._visits[decision.call_id] = following
        self.metrics.offered(decision.to_queue)
        self._line(decision.at, following, "ENTERQUEUE", "", "", following.position)
        self._save(following)

    def _exited(self, decision: CallExited) -> None:
        visit = self._visits.pop(decision.call_id, None)
        if visit is None:
            return
        wait = decision.at - visit.record.entered
        visit.record = replace(
            visit.record,
            ended=decision.at,
            outcome="exited",
            exit_reason=decision.reason,
            wait=wait,
        )
        event = _EXIT_EVENTS.get(decision.reason)
        if event is not None:
            self._line(decision.at, visit, event, visit.position, visit.position, wait)
        self._save(visit)

    # --- agents ---------------------------------------------------------------------------

    def _agent_changed(self, change: AgentStateChanged) -> None:
        agent, state, reason, at = change.agent_id, change.state, change.pause_reason, change.at
        previous, previous_reason = self._agent_states.get(agent, (AgentState.LOGGED_OUT, None))
        self._agent_states[agent] = (state, reason)
        if state is AgentState.RESERVED:
            self._reserved_at[agent] = at
        if previous is AgentState.WRAP_UP and state is not AgentState.WRAP_UP:
            self._wrap_up_ended(agent, at)

        open_interval = self._intervals.pop(agent, None)
        if open_interval is not None:
            self._pending_intervals[open_interval.id] = replace(open_interval, end=at)
        if state is not AgentState.LOGGED_OUT:
            interval = AgentInterval(self._new_id(), agent, state.value, reason, at)
            self._intervals[agent] = interval
            self._pending_intervals[interval.id] = interval

        if previous is AgentState.LOGGED_OUT and state is not AgentState.LOGGED_OUT:
            self._agent_line(at, agent, "ADDMEMBER", "")
        if state is AgentState.PAUSED and (
            previous is not AgentState.PAUSED or reason != previous_reason
        ):
            self._agent_line(at, agent, "PAUSE", reason or "")
        if previous is AgentState.PAUSED and state not in (
            AgentState.PAUSED,
            AgentState.LOGGED_OUT,
        ):
            self._agent_line(at, agent, "UNPAUSE", previous_reason or "")
        if state is AgentState.LOGGED_OUT and previous is not AgentState.LOGGED_OUT:
            self._agent_line(at, agent, "REMOVEMEMBER", "")

    # --- called by the controller ----------------------------------------------------------

    def callback_requested(self, call_id: str) -> None:
        visit = self._visits.get(call_id)
        if visit is None or visit.record.callback_requested:
            return
        visit.record = replace(visit.record, callback_requested=True)
        self.metrics.callback_requested(visit.record.queue)
        self._save(visit)
        self._wake()

    def caller_data(self, call_id: str, text: str) -> None:
        visit = self._visits.get(call_id)
        if visit is None:
            self._early_for(call_id).caller_data = text
            return
        visit.record = replace(visit.record, caller_data=text)
        self._save(visit)
        self._wake()

    def exit_with_key(self, call_id: str, key: str) -> None:
        visit = self._visits.get(call_id)
        if visit is None:
            self._early_for(call_id).exit_key = key
        else:
            visit.exit_key = key

    def hung_up_by(self, call_id: str, side: str) -> None:
        visit = self._visits.get(call_id)
        if visit is not None and side in ("caller", "agent"):
            visit.record = replace(visit.record, hung_up_by=side)

    def set_ami_connected(self, connected: bool) -> None:
        self.metrics.set_ami_connected(connected)

    def caller_info(self, call_id: str) -> Mapping[str, Any] | None:
        visit = self._visits.get(call_id)
        if visit is None:
            return None
        record = visit.record
        return {
            "caller_data": record.caller_data,
            "callback_requested": record.callback_requested,
            "arrived": record.arrived,
            "leg": record.leg,
        }

    async def get_call(self, call_id: str) -> Mapping[str, Any] | None:
        """The stored record of a call: its latest visit's fields plus every visit as `legs`."""
        if self.store is None:
            return None
        await self.flush()
        legs = await self.store.call_legs(call_id)
        if not legs:
            return None
        return {**legs[-1].to_dict(), "legs": [leg.to_dict() for leg in legs]}

    def _early_for(self, call_id: str) -> _Early:
        early = self._early.get(call_id)
        if early is None:
            early = self._early[call_id] = _Early()
            while len(self._early) > _EARLY_LIMIT:
                self._early.popitem(last=False)
        return early

    # --- buffering and the writer -----------------------------------------------------------

    def _save(self, visit: _Visit) -> None:
        self._pending_calls[visit.record.id] = visit.record

    def _line(self, at: float, visit: _Visit, event: str, *data: object,
              agent: str | None = None) -> None:  # fmt: skip
        record = visit.record
        self._pending_lines.append(format_line(at, record.call_id, record.queue, agent, event,
                                               *data))  # fmt: skip

    def _agent_line(self, at: float, agent: str, event: str, *data: object) -> None:
        self._pending_lines.append(format_line(at, "NONE", "NONE", agent, event, *data))

    def _wake(self) -> None:
        self._ensure_writer()
        self._dirty.set()
        if len(self._pending_calls) + len(self._pending_intervals) >= BATCH_ROWS:
            self._urgent.set()

    def _ensure_writer(self) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop yet: the first flush() starts the writer
                return
            self._task = loop.create_task(self._write_forever(), name="acd-recorder")

    async def _write_forever(self) -> None:
        delay = 0.5
        while True:
            await self._dirty.wait()
            if self._batch_delay > 0 and not self._urgent.is_set():
                # Let the batch grow; a flush() or a full batch cuts the wait short.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._batch_delay):
                        await self._urgent.wait()
            self._dirty.clear()
            self._urgent.clear()
            target = self._buffered
            calls, self._pending_calls = self._pending_calls, {}
            intervals, self._pending_intervals = self._pending_intervals, {}
            lines, self._pending_lines = self._pending_lines, []
            if lines and self.queue_log is not None:
                try:
                    self.queue_log.write(lines)
                except Exception:  # a dead writer would hang every flush(): log and go on
                    log.exception("queue_log write failed; %d lines lost", len(lines))
            if self.store is not None and (calls or intervals):
                try:
                    await self.store.save(list(calls.values()), list(intervals.values()))
                except Exception:
                    log.exception("writing records failed; retrying in %.1f s", delay)
                    # Put them back under anything newer, then try again after a pause.
                    self._pending_calls = {**calls, **self._pending_calls}
                    self._pending_intervals = {**intervals, **self._pending_intervals}
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    self._dirty.set()
                    continue
            delay = 0.5
            self._written = max(self._written, target)
            self._progress.set()
