"""One line the file's encoding cannot hold (a lone surrogate, as a str decoded with
`surrogateescape` carries) is written escaped and loses none of the other lines of its batch."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from acd.observe.happenings import VisitOpened
from acd.observe.queue_log import QueueLog, QueueLogWriter
from acd.storage.record_store import CallRecord


def _opened(call_id: str, at: float) -> VisitOpened:
    return VisitOpened(at, CallRecord(call_id, call_id, 0, "q", 0, at, at, 0.0, 0.0), 1)


async def test_an_unencodable_line_loses_no_other_line_of_its_batch(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "queue_log"
    writer = QueueLogWriter(QueueLog(path))
    for at, call_id in [(1.0, "before"), (2.0, "bad\udcff"), (3.0, "after")]:
        writer.on_record(_opened(call_id, at))
    with caplog.at_level(logging.ERROR):
        await writer.drain()
    writer.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [line.split("|")[1] for line in lines] == ["before", "bad\\udcff", "after"]
    assert not [r for r in caplog.records if "lost" in r.getMessage()]


def test_the_next_batch_is_written_after_a_bad_line(tmp_path: Path) -> None:
    path = tmp_path / "queue_log"
    queue_log = QueueLog(path)
    queue_log.write(["1|a\ud800|q|NONE|ENTERQUEUE|||1"])
    queue_log.write(["2|b|q|NONE|ENTERQUEUE|||1"])
    queue_log.close()
    assert path.read_text(encoding="utf-8").splitlines() == [
        "1|a\\ud800|q|NONE|ENTERQUEUE|||1",
        "2|b|q|NONE|ENTERQUEUE|||1",
    ]
