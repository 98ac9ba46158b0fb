"""A queue_log line keeps its shape whatever a field holds: a `|` (the field separator), a
CR/LF or a NUL in a uniqueid, a queue, an agent id, a pause reason or any data field never adds
a field or a line (issue #11: a `|` in a uniqueid forged a CONNECT)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from acd.observe.happenings import AgentIntervalChanged, VisitAnswered, VisitOpened
from acd.observe.queue_log import format_line, lines_for
from acd.router.model import AgentState
from acd.storage.record_store import CallRecord

HOSTILE = [
    "1700000000.1|support|1001|CONNECT|0||0",
    "x\r\n1700000000|forged|NONE|NONE|ADDMEMBER|",
    "a\nb",
    "a\rb",
    "nul\x00byte",
    "vt\x0bff\x0cfs\x1c",
    "uline\u2028para\u2029nel\x85",
]

# format_line(at, call_id, queue, agent, event, data1, data2): every place a value can go.
PLACES = ["call_id", "queue", "agent", "event", "data1", "data2"]


def _line_with(place: str, value: str) -> str:
    args = {"call_id": "c1", "queue": "q", "agent": "1001", "event": "PAUSE"}
    data = ["d1", "d2"]
    if place.startswith("data"):
        data[int(place[-1]) - 1] = value
    else:
        args[place] = value
    return format_line(1.0, args["call_id"], args["queue"], args["agent"], args["event"], *data)


def _assert_one_line_of(line: str, fields: int) -> None:
    assert line.splitlines() == [line], repr(line)
    assert "\x00" not in line
    assert len(line.split("|")) == fields, repr(line)


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("place", PLACES)
def test_every_field_is_cleaned(place: str, value: str) -> None:
    _assert_one_line_of(_line_with(place, value), 7)


def test_clean_values_are_kept() -> None:
    line = format_line(1700000000.4, "1700.12", "support", "1001", "CONNECT", 3.6, "", 2)
    assert line == "1700000000|1700.12|support|1001|CONNECT|4||2"


def test_a_pipe_in_a_uniqueid_does_not_forge_a_connect() -> None:
    forged = "1700000000.1|support|1001|CONNECT|0||0"
    record = CallRecord("r1", forged, 0, "support", 0, 1.0, 1.0, 20.0, 5.0)
    opened = list(lines_for(VisitOpened(5.0, record, 1)))
    answered = list(lines_for(VisitAnswered(9.0, replace(record, agent_id="10|01", wait=4), 1)))
    for line in opened + answered:
        _assert_one_line_of(line, 8)
    events = [line.split("|")[4] for line in opened + answered]
    assert events == ["ENTERQUEUE", "CONNECT"]


def test_a_pause_reason_with_a_newline_stays_on_the_pause_line() -> None:
    change = AgentIntervalChanged(
        5.0,
        "1001",
        AgentState.AVAILABLE,
        None,
        AgentState.PAUSED,
        "lunch\n1700000000|NONE|NONE|1002|REMOVEMEMBER|",
        None,
        None,
    )
    lines = list(lines_for(change))
    assert len(lines) == 1
    _assert_one_line_of(lines[0], 6)
    assert lines[0].split("|")[4] == "PAUSE"
