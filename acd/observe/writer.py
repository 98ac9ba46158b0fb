"""The batch writer: a record subscriber that hands each happening to its outputs (the
queue_log, the store) and writes what they buffered in batches, on one background task.

The engine task never waits for I/O: outputs only buffer in `on_record`. The writer task
(kept in `self._task`) gathers for up to `delay` seconds (or `rows` buffered items, or until
someone awaits `flush()`), then drains the outputs in the order given, so one batch's
queue_log lines and rows go out together. At 50 calls/s a transaction per step cost more CPU
than all the routing; a crash loses at most one batch.

An output that raises keeps what it could not write (`StoreWriter` puts its rows back); the
writer then retries the batch after a pause that doubles up to 30 s, and `flush()` waits
until it succeeds. An output that may lose data (the queue_log) logs and does not raise.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from acd.observe.happenings import RecordHappening
from acd.storage.batches import Batches

log = logging.getLogger(__name__)

BATCH_DELAY = 0.25
BATCH_ROWS = 500
RETRY_FIRST = 0.5


class Output(Protocol):
    """One thing the batch writer drains: buffers happenings, writes them when asked."""

    def on_record(self, happening: RecordHappening) -> None:
        """Buffer what the happening means for this output (engine task: no I/O)."""

    def pending(self) -> int:
        """Items (rows, lines) buffered and not yet written."""
        ...

    async def drain(self) -> None:
        """Write everything buffered. Raise to be retried, keeping what must not be lost."""

    def close(self) -> None: ...


class Flushable(Protocol):
    async def flush(self) -> None: ...


class BatchWriter:
    def __init__(
        self,
        outputs: Sequence[Output],
        *,
        delay: float = BATCH_DELAY,
        rows: int = BATCH_ROWS,
        retry: float = RETRY_FIRST,
    ) -> None:
        self._outputs = tuple(outputs)
        self._rows = rows
        self._batches = Batches(self._drain, name="acd-record-writer", delay=delay, retry=retry)

    def on_record(self, happening: RecordHappening) -> None:
        try:
            for output in self._outputs:
                try:
                    output.on_record(happening)
                except Exception:  # the other outputs still get it
                    log.exception("output %r failed on %r", output, happening)
        finally:
            full = sum(output.pending() for output in self._outputs) >= self._rows
            self._batches.added(urgent=full)

    async def flush(self) -> None:
        """Return once every happening seen so far is written (raises nothing; errors are
        logged and retried)."""
        await self._batches.flush()

    async def close(self) -> None:
        await self.flush()
        await self._batches.stop()
        for output in self._outputs:
            output.close()

    async def _drain(self, pause: float) -> bool:
        ok = True
        for output in self._outputs:
            try:
                await output.drain()
            except Exception:
                log.exception("writing %r failed; retrying in %.1f s", output, pause)
                ok = False
        return ok
