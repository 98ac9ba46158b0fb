"""A queue_log in Asterisk's format, so existing queue reporting tools read our calls.

Each line is `epoch|callid|queue|agent|event|data1|data2|…` with the data fields app_queue
documents. `callid` is the call id the controller gave the router (the caller channel's
uniqueid), `agent` the agent id (NONE when no agent is involved), times are whole seconds
like Asterisk writes them (durations are rounded, ring time in RINGNOANSWER is milliseconds).

    ENTERQUEUE       url|callerid|position        the call entered (also by overflow)
    CONNECT          holdtime|bridged uniqueid|ringtime   (bridged uniqueid left empty)
    COMPLETECALLER   holdtime|calltime|origposition  the caller hung up
    COMPLETEAGENT    holdtime|calltime|origposition  the agent hung up
    ABANDON          position|origposition|waittime  (short abandons too, as Asterisk does)
    RINGNOANSWER     ringtime (ms)                the offer failed (any reason)
    EXITWITHTIMEOUT  position|origposition|waittime  max_wait: left, or overflowed onwards
    EXITWITHKEY      key|position|origposition|waittime
    EXITEMPTY        position|origposition|waittime  join_empty, leave_empty, queue removed
    ADDMEMBER / REMOVEMEMBER                      login / logout (queue NONE)
    PAUSE            reason                       (queue NONE, callid NONE)
    UNPAUSE          reason                       the reason that ended
    ENTERQUEUE is not written for calls to unknown queues (Asterisk has no such queue either).

Who hung up a connected call is not in the router's `CallEnded`: the controller tells the
recorder (`Recorder.hung_up_by`); when nobody did, the line is COMPLETECALLER, because a call
that ends without an agent action is most often the caller leaving.

Positions: the ACD orders calls by priority across queues, so `position` is the place at
entry and ABANDON / EXIT* repeat it as both position and origposition.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TextIO


def format_line(at: float, call_id: str, queue: str, agent: str | None, event: str,
                *data: object) -> str:  # fmt: skip
    fields = [str(int(at)), call_id or "NONE", queue or "NONE", agent or "NONE", event]
    fields.extend(_field(value) for value in data)
    return "|".join(fields)


def _field(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(round(value))
    # A pipe or newline inside free text would break every parser reading the file.
    return str(value).replace("|", "/").replace("\n", " ").replace("\r", " ")


class QueueLog:
    """Appends lines to `path`, creating its directory. `write` is called from the
    recorder's writer task, never from the engine's."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._file: TextIO | None = None

    def write(self, lines: Iterable[str]) -> None:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open
        for line in lines:
            self._file.write(line + "\n")
        self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
