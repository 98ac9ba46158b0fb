"""A queue_log in Asterisk's format, so existing queue reporting tools read our calls.

Each line is `epoch|callid|queue|agent|event|data1|data2|…` with the data fields app_queue
documents. `callid` is the call id the controller gave the router (the caller channel's
uniqueid), `agent` the agent id (NONE when no agent is involved), times are whole seconds
like Asterisk writes them (durations are rounded, ring time in RINGNOANSWER is milliseconds).
Every field is cleaned as the line is formatted (`clean_field`: a `|` becomes `/`, control
characters, NUL and line breaks a space), so no value, a uniqueid or a pause reason from
outside included, can add a field or a line.

    ENTERQUEUE       url|callerid|position        the call entered (also by overflow)
    CONNECT          holdtime|bridged uniqueid|ringtime   (bridged uniqueid left empty)
    COMPLETECALLER   holdtime|calltime|origposition  the caller hung up
    COMPLETEAGENT    holdtime|calltime|origposition  the agent hung up
    ABANDON          position|origposition|waittime  (short abandons too, as Asterisk does)
    RINGNOANSWER     ringtime (ms)                the offer failed (any reason)
    EXITWITHTIMEOUT  position|origposition|waittime  max_wait: left, or overflowed onwards
    EXITEMPTY        position|origposition|waittime  join_empty, leave_empty, queue removed
    EXITWITHKEY      key|position|origposition|waittime  the caller pressed the exit key
    ADDMEMBER / REMOVEMEMBER                      login / logout (queue NONE)
    PAUSE            reason                       (queue NONE, callid NONE)
    UNPAUSE          reason                       the reason that ended
    ENTERQUEUE is not written for calls to unknown queues (Asterisk has no such queue either).

The lines are made from the call records' happenings (`lines_for`), never from the router's
steps, so every line stands for a change of a stored record. `QueueLogWriter` buffers them
and appends them when the batch writer drains it.

Who hung up a connected call is not in the router's `CallEnded`: the controller tells the
recorder (`CallRecorder.hung_up_by`); when nobody did, the line is COMPLETECALLER, because a
call that ends without an agent action is most often the caller leaving.

A transfer ends the visit with app_queue's transfer line instead of a COMPLETE* one (same
fields as app_queue's, holdtime the wait in this queue, calltime the talk up to the transfer);
an ENTERQUEUE in the target queue follows, as when app_queue's caller reaches Queue() again:
    TRANSFER         extension|context|holdtime|calltime|origposition  a blind transfer:
                     extension the target queue, context its entry (acd-inbound). Asterisk
                     12 and later name app_queue's line BLINDTRANSFER, with these fields
    ATTENDEDTRANSFER method|data…|holdtime|calltime|origposition  a warm transfer, method
                     BRIDGE|bridge, APP|application or LINK|channel|channel: only formatted
                     (`attended_transfer_line`); a warm transfer writes BRIDGE|<target queue>

Positions: the ACD orders calls by priority across queues, so `position` is the place at
entry and ABANDON / EXIT* repeat it as both position and origposition.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TextIO

from acd.observe.happenings import (
    AgentIntervalChanged,
    RecordHappening,
    RingNoAnswer,
    VisitAnswered,
    VisitEnded,
    VisitOpened,
)
from acd.observe.records import ATTENDED_TRANSFER
from acd.private_files import open_private_append
from acd.router.model import AgentState
from acd.storage.record_store import CallRecord

log = logging.getLogger(__name__)

_EXIT_EVENTS = {
    "timeout": "EXITWITHTIMEOUT",
    "join_empty": "EXITEMPTY",
    "leave_empty": "EXITEMPTY",
    "queue_removed": "EXITEMPTY",
    "exit_key": "EXITWITHKEY",
}


def format_line(at: float, call_id: str, queue: str, agent: str | None, event: str,
                *data: object) -> str:  # fmt: skip
    """One line; every field goes through `clean_field`, whoever filled it (a uniqueid or
    a pause reason comes from outside the controller)."""
    fields: list[object] = [int(at), call_id or "NONE", queue or "NONE", agent or "NONE", event]
    fields.extend(data)
    return "|".join(clean_field(value) for value in fields)


#: `|` separates fields; a control character or a Unicode line break would end the line for
#: some reader (Python's `splitlines` alone knows eight), and a NUL ends it for C readers.
_FIELD_BREAKERS = {ord("|"): "/"} | dict.fromkeys(
    (*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029), " "
)


def clean_field(value: object) -> str:
    """A value as one queue_log field: no separator, no line break, no NUL."""
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value))
    return str(value).translate(_FIELD_BREAKERS)


def lines_for(happening: RecordHappening) -> Iterator[str]:
    """The queue_log lines one happening stands for (none for most)."""
    match happening:
        case VisitOpened(at=at, record=r, position=position):
            yield _call_line(at, r, None, "ENTERQUEUE", "", "", position)
        case VisitAnswered(at=at, record=r, ring=ring):
            yield _call_line(at, r, r.agent_id, "CONNECT", r.wait, "", ring)
        case RingNoAnswer(at=at, record=r, agent_id=agent, ring=ring):
            yield _call_line(at, r, agent, "RINGNOANSWER", int(ring * 1000))
        case VisitEnded():
            line = _end_line(happening)
            if line is not None:
                yield line
        case AgentIntervalChanged():
            yield from _agent_lines(happening)
        case _:
            pass  # offers, wrap-up ends, callbacks and notes are not queue_log events


#: The context a caller reaches a queue by (CONTRACT.md: context acd-inbound, extension the
#: queue): a TRANSFER line's `context`, its `extension` the target queue.
ENTRY_CONTEXT = "acd-inbound"


def attended_transfer_line(at: float, record: CallRecord, position: int, method: str,
                           *data: str) -> str:  # fmt: skip
    """app_queue's ATTENDEDTRANSFER line of a warm transfer of `record`'s visit (its `talk`
    up to the transfer): `method` and its data as app_queue writes them (BRIDGE|bridge id,
    APP|application, LINK|channel|channel), then holdtime|calltime|origposition."""
    return _call_line(at, record, record.agent_id, "ATTENDEDTRANSFER", method, *data,
                      record.wait, record.talk, position)  # fmt: skip


def _end_line(ended: VisitEnded) -> str | None:
    r, at, position = ended.record, ended.at, ended.position
    if (
        r.outcome == "answered"
        and r.transferred_to is not None
        and r.exit_reason == (ATTENDED_TRANSFER)
    ):
        # A warm transfer: app_queue's BRIDGE method, the bridge named by its target queue.
        return attended_transfer_line(at, r, position, "BRIDGE", r.transferred_to)
    if r.outcome == "answered" and r.transferred_to is not None:
        # app_queue's blind transfer fields (it names the line BLINDTRANSFER since Asterisk 12).
        return _call_line(at, r, r.agent_id, "TRANSFER", r.transferred_to, ENTRY_CONTEXT,
                          r.wait, r.talk, position)  # fmt: skip
    if r.outcome == "answered":
        side = "COMPLETEAGENT" if r.hung_up_by == "agent" else "COMPLETECALLER"
        return _call_line(at, r, r.agent_id, side, r.wait, r.talk, position)
    if r.outcome in ("abandoned", "short_abandoned"):
        event: str | None = "ABANDON"
    elif r.outcome == "overflowed":
        event = "EXITWITHTIMEOUT"
    elif r.outcome == "exited":
        event = _EXIT_EVENTS.get(r.exit_reason or "")
    else:
        event = None
    if event is None:
        return None
    if event == "EXITWITHKEY":  # app_queue puts the key first
        return _call_line(at, r, None, event, r.exit_key or "", position, position, r.wait)
    return _call_line(at, r, None, event, position, position, r.wait)


def _agent_lines(change: AgentIntervalChanged) -> Iterator[str]:
    at, agent, state, previous = change.at, change.agent_id, change.state, change.previous
    out, paused = AgentState.LOGGED_OUT, AgentState.PAUSED
    if previous is out and state is not out:
        yield format_line(at, "NONE", "NONE", agent, "ADDMEMBER", "")
    if state is paused and (previous is not paused or change.reason != change.previous_reason):
        yield format_line(at, "NONE", "NONE", agent, "PAUSE", change.reason or "")
    if previous is paused and state not in (paused, out):
        yield format_line(at, "NONE", "NONE", agent, "UNPAUSE", change.previous_reason or "")
    if state is out and previous is not out:
        yield format_line(at, "NONE", "NONE", agent, "REMOVEMEMBER", "")


def _call_line(at: float, record: CallRecord, agent: str | None, event: str,
               *data: object) -> str:  # fmt: skip
    return format_line(at, record.call_id, record.queue, agent, event, *data)


class QueueLogWriter:
    """An output of the batch writer: buffers the lines of each happening and appends them
    when drained. A failed write is logged and its lines dropped: the queue_log is a copy
    for reporting tools, not worth holding the records back for."""

    def __init__(self, queue_log: QueueLog, gate: Callable[[], bool] | None = None) -> None:
        """`gate` (a cluster node's lease): lines are appended only while it is open; a node
        that lost the lead drops them (the new leader logs those calls from then on)."""
        self._queue_log = queue_log
        self._lines: list[str] = []
        self._sealed: list[str] | None = None  # the batch being written (`seal`), if cut
        self._gate = gate
        self.dropped = 0

    def __repr__(self) -> str:
        return f"QueueLogWriter({str(self._queue_log.path)!r})"

    def on_record(self, happening: RecordHappening) -> None:
        self._lines.extend(lines_for(happening))

    def pending(self) -> int:
        return len(self._sealed or ()) + len(self._lines)

    def seal(self) -> None:
        self._sealed = [*(self._sealed or ()), *self._lines]
        self._lines = []

    async def drain(self) -> None:
        """Write the sealed lines (all buffered ones if `seal` was not called)."""
        if self._sealed is None:
            self.seal()
        lines, self._sealed = self._sealed or [], None
        self._write(lines)

    def give_up(self, reason: str) -> None:
        # A file: the database being down does not keep it from being written.
        self.seal()
        lines, self._sealed = self._sealed or [], None
        self._write(lines)

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        if self._gate is not None and not self._gate():
            if not self.dropped:
                log.warning("queue_log: this node no longer leads; its lines are dropped")
            self.dropped += len(lines)
            return
        try:
            self._queue_log.write(lines)
        except Exception:
            log.exception("queue_log write failed; %d lines lost", len(lines))

    def close(self) -> None:
        self._queue_log.close()


class QueueLog:
    """Appends lines to `path`, creating it 0600 and its directory 0700 (it holds caller
    data; one found looser is tightened, `acd.private_files`). `write` is called from the
    batch writer's task, never from the engine's."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None

    def write(self, lines: Iterable[str]) -> None:
        if self._file is None:
            self._file = open_private_append(self.path)
        for line in lines:
            self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
