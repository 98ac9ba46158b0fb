"""Durable agent state: an engine listener that stores each agent's state as it changes, and
the restore at start (see the theory of operation in `acd.recovery`).

    writer = AgentStateWriter(router, database.agent_states)
    engine.add_listener(writer)
    ...
    await writer.flush()   # everything seen so far is in the store
    await writer.close()   # flush (bounded), stop the background task

    restored = await restore_agent_states(router, database.agent_states, clock())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from acd.engine import Step
from acd.router import events as ev
from acd.router.decisions import AgentStateChanged, Decision, EventRejected
from acd.router.model import AgentState, AgentView
from acd.storage.agent_state_store import StoredAgentState
from acd.storage.batches import Batches
from acd.storage.dead_letters import DeadLetters
from acd.storage.fence import StoreFenced
from acd.storage.rejects import describe, save_apart

log = logging.getLogger(__name__)

#: A change is handed to the store at most this long after the step that made it (plus the
#: write in flight), while the store is up. Like the call records' batches.
BATCH_DELAY = 0.25
RETRY_FIRST = 0.5
#: `close()` waits this long for the last rows before setting them aside (the store is down).
CLOSE_TIMEOUT = 10.0

#: Agent events whose effect on the durable state the decisions may not show: a request
#: deferred to the end of a call or cancelled (only `pending` changes), a restore whose
#: pending logout left the agent logged out, a removal (the row then says logged out).
_QUIET_AGENT_EVENTS = (
    ev.AgentLoggedOut,
    ev.AgentPaused,
    ev.AgentUnpaused,
    ev.AgentRestored,
    ev.AgentRemoved,
)

_Content = tuple[
    str, str | None, float | None, str | None, str | None, float | None, float | None, float | None
]


class AgentStates(Protocol):
    """The store (`acd.storage.AgentStateStore`)."""

    async def save(self, rows: Sequence[StoredAgentState]) -> None: ...

    async def load(self) -> list[StoredAgentState]: ...


class AgentSource(Protocol):
    def agent(self, agent_id: str) -> AgentView | None: ...


class Restorable(AgentSource, Protocol):
    def handle(self, event: ev.Event) -> list[Decision]: ...


def stored_state(agent_id: str, view: AgentView | None, at: float) -> StoredAgentState:
    """The row for an agent as the router sees it; an agent the router does not know (it
    was removed) is stored logged out."""
    if view is None:
        return StoredAgentState(
            agent_id, AgentState.LOGGED_OUT.value, None, None, None, None, None, None, at
        )
    return StoredAgentState(
        agent_id,
        view.state.value,
        view.pause_reason,
        view.idle_since,
        view.pending,
        view.pending_reason,
        view.wrap_until,
        view.rona_until,
        at,
        view.state_since,
    )


def _content(row: StoredAgentState) -> _Content:
    """Everything but `updated_at`: what a restore reads."""
    return (
        row.state,
        row.pause_reason,
        row.idle_since,
        row.pending,
        row.pending_reason,
        row.wrap_until,
        row.rona_until,
        row.state_since,
    )


class AgentStateWriter:
    """Engine listener: stores the durable state of every agent a step touched, in batches
    written by one background task (`acd.storage.batches`). `on_step` never waits.

    Runtime: `on_step` is O(a * s) for the a agents a step touched (their views); a batch is
    one upsert of the agents changed since the last one.

    A batch the write fence refuses (`acd.storage.fence`: another leader owns the store) is
    dropped, neither retried nor set aside: one warning, and `fenced_rows` counts the rows."""

    def __init__(
        self,
        router: AgentSource,
        store: AgentStates,
        *,
        delay: float = BATCH_DELAY,
        close_timeout: float = CLOSE_TIMEOUT,
        dead_letters: DeadLetters | None = None,
    ) -> None:
        self._router = router
        self._store = store
        self._close_timeout = close_timeout
        # Rows the database refuses, and the last ones a stop could not store, are set aside
        # there (acd.storage.dead_letters) instead of holding back every other agent's.
        self._dead_letters = dead_letters if dead_letters is not None else DeadLetters(None)
        self._last: dict[str, _Content] = {}  # per agent: the last row buffered
        self._buffer: dict[str, StoredAgentState] = {}  # per agent: the row to write
        self.fenced_rows = 0  # rows dropped because another leader owns the store
        self._batches = Batches(
            self._write, name="acd-agent-state-writer", delay=delay, retry=RETRY_FIRST
        )

    def on_step(self, step: Step) -> None:
        touched: list[str] = []
        for decision in step.decisions:
            if isinstance(decision, AgentStateChanged):
                touched.append(decision.agent_id)
            elif isinstance(decision, EventRejected):
                return  # nothing changed
        event = step.event
        if isinstance(event, _QUIET_AGENT_EVENTS):
            touched.append(event.agent_id)
        if not touched:
            return
        for agent_id in dict.fromkeys(touched):
            row = stored_state(agent_id, self._router.agent(agent_id), event.now)
            content = _content(row)
            if self._last.get(agent_id) == content:
                continue
            self._last[agent_id] = content
            self._buffer[agent_id] = row
            self._batches.added()

    def pending(self) -> int:
        """Agents whose latest row is not written yet."""
        return len(self._buffer)

    async def flush(self) -> None:
        """Return once every change seen so far is written (raises nothing: a failing store
        is logged and retried, and this waits for it)."""
        await self._batches.flush()

    async def close(self) -> None:
        """Flush (for at most `close_timeout` seconds: with a store that is down the last
        rows are set aside in the dead letters, and stay `pending`), then stop the task."""
        try:
            async with asyncio.timeout(self._close_timeout):
                await self.flush()
        except TimeoutError:
            log.error("agent states not stored (store down): %s", sorted(self._buffer))
        await self._batches.stop()
        reason = f"not written within {self._close_timeout:g} s of the stop"
        for row in self._buffer.values():
            self._dead_letters.put("agent_state", row.to_dict(), reason)
        self._dead_letters.close()

    async def _write(self, pause: float) -> bool:
        rows, self._buffer = self._buffer, {}
        try:
            refused = await save_apart(self._store.save, list(rows.values()))
        except StoreFenced as fenced:  # the new leader owns the store: drop, never retry
            if not self.fenced_rows:
                log.warning("agent states no longer stored: %s", fenced)
            self.fenced_rows += len(rows)
            return True
        except BaseException as failure:
            for agent_id, row in rows.items():
                self._buffer.setdefault(agent_id, row)  # a newer row wins
            if not isinstance(failure, Exception):
                raise  # cancelled by close(): the rows are back for it
            log.exception("storing agent states failed; retrying in %.1f s", pause)
            return False
        for row, error in refused:
            self._dead_letters.put("agent_state", row.to_dict(), describe(error))
        return True


ApplyEvent = Callable[[ev.Event], Awaitable[Sequence[Decision]]]
"""How a restore event reaches the router: `acd serve` sends it through the engine, so the
records and the queue_log see the agents come back (an interval opens, ADDMEMBER)."""


async def restore_agent_states(
    router: Restorable, store: AgentStates, now: float, apply: ApplyEvent | None = None
) -> int:
    """Hand every stored agent that was logged in back its state (`AgentRestored`, longest
    idle first, so that agent-driven dispatch follows the stored order), then write back the
    rows the restore changed (an agent stored on a call settles; see `acd.recovery`).
    Call it once the router knows the queues and agents, before any call arrives; with
    `apply` (the engine), after the listeners are attached.

    Returns the number of agents that came back logged in. Rows the router refuses (an
    agent no longer configured, or logged in already, or a row it cannot read) are logged
    and left alone. Runtime: O(r log r) for r stored rows, plus one `handle` each."""
    rows = sorted(
        (row for row in await store.load() if row.state != AgentState.LOGGED_OUT.value),
        key=lambda row: (row.idle_since if row.idle_since is not None else now, row.agent_id),
    )
    restored = 0
    rewritten: list[StoredAgentState] = []
    for row in rows:
        event = _restore_event(row, now)
        if event is None:
            continue
        decisions = router.handle(event) if apply is None else await apply(event)
        rejected = [d for d in decisions if isinstance(d, EventRejected)]
        if rejected:
            log.warning(
                "stored state of agent %s not restored: %s (%s)",
                row.agent_id,
                rejected[0].message,
                rejected[0].code,
            )
            continue
        after = stored_state(row.agent_id, router.agent(row.agent_id), now)
        if after.state != AgentState.LOGGED_OUT.value:
            restored += 1
        if _content(after) != _content(row):
            rewritten.append(after)
    await store.save(rewritten)
    log.info("restored the state of %d agent(s) from storage", restored)
    return restored


def _restore_event(row: StoredAgentState, now: float) -> ev.AgentRestored | None:
    try:
        state = AgentState(row.state)
    except ValueError:
        log.warning("stored state of agent %s unreadable: %r", row.agent_id, row.state)
        return None
    if row.idle_since is None:  # the router never keeps a logged-in agent without one
        log.warning("stored state of agent %s has no idle_since: %r", row.agent_id, row)
        return None
    return ev.AgentRestored(
        now,
        row.agent_id,
        state,
        row.pause_reason,
        row.idle_since,
        row.pending,
        row.pending_reason,
        row.wrap_until,
        row.rona_until,
        row.state_since,
    )
