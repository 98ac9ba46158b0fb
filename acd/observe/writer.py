"""The batch writer: a record subscriber that hands each happening to its outputs (the
queue_log, the store) and writes what they buffered in batches, on one background task.

The engine task never waits for I/O: outputs only buffer in `on_record`. The writer task
(kept in `self._task`) gathers for up to `delay` seconds (or `rows` buffered items, or until
someone awaits `flush()`), then drains the outputs in the order given, so one batch's
rows and queue_log lines go out together. An output that raises holds back the ones after it
until it succeeds: the store comes first, so the queue_log never tells what the store does
not hold (a controller that dies between the two loses at most one batch's lines; the other
way round, the next start — or a cluster's new leader — would log those calls again). At
50 calls/s a transaction per step cost more CPU than all the routing; a crash loses at most
one batch.

An output that raises keeps what it could not write (`StoreWriter` puts its rows back: the
database is unavailable; rows it refuses are set aside, not raised); the writer then retries
the batch after a pause that doubles up to 30 s, and `flush()` waits until it succeeds
(`flush_within` for a bounded wait). An output that may lose data (the queue_log) logs and
does not raise.

`close()` is bounded: it waits `close_timeout` seconds for the last batch, then stops the
task and tells each output to `give_up` what it still holds (the store sets it aside in the
dead letters, the queue_log appends it), so a stop with the database down ends, loudly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Protocol

from acd.observe.happenings import RecordHappening
from acd.storage.batches import Batches

log = logging.getLogger(__name__)

BATCH_DELAY = 0.25
BATCH_ROWS = 500
RETRY_FIRST = 0.5
#: `close()` waits this long for the last batch before setting it aside.
CLOSE_TIMEOUT = 10.0


class Output(Protocol):
    """One thing the batch writer drains: buffers happenings, writes them when asked."""

    def on_record(self, happening: RecordHappening) -> None:
        """Buffer what the happening means for this output (engine task: no I/O)."""

    def pending(self) -> int:
        """Items (rows, lines) buffered and not yet written."""
        ...

    def seal(self) -> None:
        """The batch ends here: `drain` writes what was buffered before this call. Called on
        every output at once, before any drains: what an output writes never runs ahead of
        what an earlier one wrote (the store's save yields to the engine, which may record
        more meanwhile)."""

    async def drain(self) -> None:
        """Write everything buffered. Raise to be retried, keeping what must not be lost."""

    def give_up(self, reason: str) -> None:
        """The writer stops without writing what is buffered: keep it elsewhere, or log."""

    def close(self) -> None: ...


class Flushable(Protocol):
    async def flush(self) -> None: ...

    async def flush_within(self, seconds: float) -> bool: ...


class BatchWriter:
    def __init__(
        self,
        outputs: Sequence[Output],
        *,
        delay: float = BATCH_DELAY,
        rows: int = BATCH_ROWS,
        retry: float = RETRY_FIRST,
        close_timeout: float = CLOSE_TIMEOUT,
    ) -> None:
        self._outputs = tuple(outputs)
        self._close_timeout = close_timeout
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

    async def flush_within(self, seconds: float) -> bool:
        """`flush()` for at most `seconds`: False if something seen so far is not written."""
        try:
            async with asyncio.timeout(seconds):
                await self._batches.flush()
        except TimeoutError:
            return False
        return True

    async def close(self) -> None:
        """Write what is buffered (for at most `close_timeout` seconds), stop the task, and
        hand what is still buffered to the outputs' `give_up`."""
        reason = "not written at the stop"
        if not await self.flush_within(self._close_timeout):
            reason = f"not written within {self._close_timeout:g} s of the stop"
            log.error("the store is unavailable: %s; setting the last rows aside", reason)
        await self._batches.stop()
        for output in self._outputs:
            try:
                output.give_up(reason)
            except Exception:
                log.exception("output %r lost what it held at the stop", output)
            output.close()

    async def _drain(self, pause: float) -> bool:
        for output in self._outputs:
            output.seal()
        for output in self._outputs:
            try:
                await output.drain()
            except Exception:
                log.exception("writing %r failed; retrying in %.1f s", output, pause)
                return False  # the outputs after it wait (see the module docstring)
        return True
