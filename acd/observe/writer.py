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

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from acd.observe.happenings import RecordHappening

log = logging.getLogger(__name__)

BATCH_DELAY = 0.25
BATCH_ROWS = 500
RETRY_FIRST = 0.5
RETRY_MAX = 30.0


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
        self._delay = delay
        self._rows = rows
        self._retry = retry
        self._buffered = 0  # happenings buffered so far
        self._written = 0  # happenings written so far
        self._dirty = asyncio.Event()
        self._urgent = asyncio.Event()  # write now: a flush() waits, or the batch is full
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def on_record(self, happening: RecordHappening) -> None:
        try:
            for output in self._outputs:
                try:
                    output.on_record(happening)
                except Exception:  # the other outputs still get it
                    log.exception("output %r failed on %r", output, happening)
        finally:
            self._buffered += 1
            self._ensure_task()
            self._dirty.set()
            if sum(output.pending() for output in self._outputs) >= self._rows:
                self._urgent.set()

    async def flush(self) -> None:
        """Return once every happening seen so far is written (raises nothing; errors are
        logged and retried)."""
        target = self._buffered
        self._ensure_task()
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
        for output in self._outputs:
            output.close()

    def _ensure_task(self) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop yet: the first flush() starts the writer
                return
            self._task = loop.create_task(self._write_forever(), name="acd-record-writer")

    async def _write_forever(self) -> None:
        pause = self._retry
        while True:
            await self._dirty.wait()
            if self._delay > 0 and not self._urgent.is_set():
                # Let the batch grow; a flush() or a full batch cuts the wait short.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self._delay):
                        await self._urgent.wait()
            self._dirty.clear()
            self._urgent.clear()
            target = self._buffered
            if not await self._drain(pause):
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                self._dirty.set()
                continue
            pause = self._retry
            self._written = max(self._written, target)
            self._progress.set()

    async def _drain(self, pause: float) -> bool:
        ok = True
        for output in self._outputs:
            try:
                await output.drain()
            except Exception:
                log.exception("writing %r failed; retrying in %.1f s", output, pause)
                ok = False
        return ok
