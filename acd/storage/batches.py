"""Writing in batches on one background task, so the engine task never waits for I/O.

The owner buffers what is to be written and calls `added()` for each item; the task (kept in
`self._task`) gathers for up to `delay` seconds (cut short by an `urgent` add or a `flush()`),
then calls the owner's `write(pause)`. A write that returns False has kept what it could not
write (the database is unavailable); it is tried again after `pause`, which doubles up to
30 s, and `flush()` waits until it succeeds (bound the wait with a timeout). Rows the
database refuses are not a failed write: the owner sets them aside (`acd.storage.rejects`,
`acd.storage.dead_letters`) so that they never hold back the others. Used by the call
records' writer (`acd.observe.writer`) and the agent states' (`acd.recovery.agent_states`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

RETRY_MAX = 30.0

Write = Callable[[float], Awaitable[bool]]
"""Write what is buffered; `pause` is the wait before a retry (for the log). False: retry."""


class Batches:
    def __init__(self, write: Write, *, name: str, delay: float, retry: float) -> None:
        self._write = write
        self._name = name
        self._delay = delay
        self._retry = retry
        self._added = 0  # items added so far
        self._written = 0  # items written so far
        self._dirty = asyncio.Event()
        self._urgent = asyncio.Event()  # write now: a flush() waits, or the batch is full
        self._progress = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def added(self, *, urgent: bool = False) -> None:
        """One more item buffered (engine task: no I/O, no wait)."""
        self._added += 1
        self._wake(urgent)

    async def flush(self) -> None:
        """Return once every item added so far is written (raises nothing: failures are the
        owner's to log, and retried)."""
        target = self._added
        self._wake(True)
        while self._written < target:
            self._progress.clear()
            await self._progress.wait()

    async def stop(self) -> None:
        """Stop the task (what is still buffered stays with the owner)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def _wake(self, urgent: bool) -> None:
        if self._task is None or self._task.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop yet: the first flush() starts the writer
                return
            self._task = loop.create_task(self._write_forever(), name=self._name)
        self._dirty.set()
        if urgent:
            self._urgent.set()

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
            target = self._added
            if not await self._write(pause):
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX)
                self._dirty.set()
                continue
            pause = self._retry
            self._written = max(self._written, target)
            self._progress.set()
