"""The one place the router runs: a single ingress queue, a single consumer task.

AMI callbacks, FastAGI handlers and API requests all `submit` events here; the consumer stamps
each with the clock, feeds it to the router, and hands the resulting step to every listener
(effects, records, metrics, event stream) in order. Ticks are sent exactly when the router's
next deadline falls due, so nothing polls.

With a `Journal` (a cluster's leader, acd/cluster/): append before apply. The consumer takes
every input queued so far (and a due Tick) as one batch stamped with one clock reading, waits
until the journal holds the batch, and only then steps the router through it; a standby that
replays the journal therefore never lacks an input the leader acted on. A journal that fails
(the lease was lost: fenced) halts the engine: the batch's futures fail with `EngineHalted`
and nothing more is decided here (`wait_halted`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from acd.router.decisions import Decision
from acd.router.events import Event, Tick
from acd.router.router import Router

log = logging.getLogger(__name__)

EventFactory = Callable[[float], Event]
"""Builds the event from the moment it is processed (`lambda now: AgentLoggedIn(now, "1001")`)."""
_Input = tuple[EventFactory, asyncio.Future[list[Decision]] | None]


@dataclass(frozen=True, slots=True)
class Step:
    event: Event
    decisions: Sequence[Decision]


class Journal(Protocol):
    async def append(self, events: Sequence[Event]) -> None:
        """Return once the events are durably journalled, in order; raise if they cannot be."""

    def stepped(self, router: Router) -> None:
        """After a journalled batch was applied, between two batches (a snapshot point)."""


class EngineHalted(RuntimeError):
    """The journal refused a batch: this engine decides nothing more (its node steps down)."""


class Listener(Protocol):
    def on_step(self, step: Step) -> None:
        """Called in event order on the engine task. Must not block; may raise (logged)."""


class Engine:
    def __init__(
        self,
        router: Router,
        clock: Callable[[], float] = time.time,
        journal: Journal | None = None,
    ) -> None:
        self.router = router
        self._clock = clock
        self._journal = journal
        self._halted: asyncio.Future[BaseException] | None = None
        self.halt_reason: BaseException | None = None
        self._listeners: list[Listener] = []
        self._ingress: asyncio.Queue[_Input] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def now(self) -> float:
        return self._clock()

    def post(self, factory: EventFactory) -> None:
        """Queue an event without waiting for its decisions (safe from any callback)."""
        if self.halt_reason is None:
            self._ingress.put_nowait((factory, None))

    def submit(self, factory: EventFactory) -> asyncio.Future[list[Decision]]:
        """Queue an event; the future resolves to the decisions it produced (fails with
        `EngineHalted` once the engine halted)."""
        future: asyncio.Future[list[Decision]] = asyncio.get_running_loop().create_future()
        if self.halt_reason is not None:
            future.set_exception(EngineHalted(str(self.halt_reason)))
            return future
        self._ingress.put_nowait((factory, future))
        return future

    def start(self) -> None:
        if self._task is None:
            run = self._run() if self._journal is None else self._run_journalled(self._journal)
            self._task = asyncio.create_task(run, name="acd-engine")

    def halt(self, reason: BaseException) -> None:
        """Decide nothing more: what is queued and what comes fails with `EngineHalted`."""
        if self.halt_reason is None:
            self.halt_reason = reason
            if self._halted is not None and not self._halted.done():
                self._halted.set_result(reason)
        self._fail_queued()

    async def wait_halted(self) -> BaseException:
        """Returns (why) once the engine halted; waits forever otherwise."""
        if self.halt_reason is not None:
            return self.halt_reason
        if self._halted is None:
            self._halted = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._halted)

    async def stop(self) -> None:
        """Stop deciding for good: what is queued, and whatever is submitted later, fails with
        `EngineHalted` (a request must not wait for a consumer that is gone)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self.halt(EngineHalted("the engine stopped"))

    async def _run(self) -> None:
        while True:
            item = await self._next_input(self.router.next_deadline())
            if item is None:
                self._step(Tick(self._clock()), None)
                continue
            factory, future = item
            try:
                event = factory(self._clock())
            except Exception as exc:  # a bad factory must not stop routing
                log.exception("event factory failed")
                if future is not None and not future.done():
                    future.set_exception(exc)
                continue
            self._step(event, future)

    async def _next_input(self, deadline: float | None) -> _Input | None:
        """The next input, or None once `deadline` (the router's next one) has come."""
        if deadline is None:
            return await self._ingress.get()
        delay = deadline - self._clock()
        if delay <= 0:
            return None
        try:
            # asyncio.timeout, not wait_for: on 3.11 wait_for returns the item and drops a
            # cancel that lands as the item arrives, and stop() then waits for a loop that
            # never ends.
            async with asyncio.timeout(delay):
                return await self._ingress.get()
        except TimeoutError:
            return None

    async def _run_journalled(self, journal: Journal) -> None:
        while self.halt_reason is None:
            deadline = self.router.next_deadline()
            first = await self._next_input(deadline)
            items = [] if first is None else [first]
            while not self._ingress.empty():
                items.append(self._ingress.get_nowait())
            now = self._clock()
            batch: list[tuple[Event, asyncio.Future[list[Decision]] | None]] = []
            if deadline is not None and deadline <= now:
                batch.append((Tick(now), None))
            for factory, future in items:
                try:
                    batch.append((factory(now), future))
                except Exception as exc:  # a bad factory must not stop routing
                    log.exception("event factory failed")
                    if future is not None and not future.done():
                        future.set_exception(exc)
            if not batch:
                continue
            try:
                await journal.append([event for event, _ in batch])
            except asyncio.CancelledError:
                _fail([future for _, future in batch], EngineHalted("the engine stopped"))
                raise
            except Exception as exc:
                log.error("journal refused a batch of %d input(s): %r; halting", len(batch), exc)
                _fail([future for _, future in batch], EngineHalted(str(exc)))
                self.halt(exc)
                return
            for event, future in batch:
                self._step(event, future)
            try:
                journal.stepped(self.router)
            except Exception:
                log.exception("journal's after-batch step failed")

    def _fail_queued(self) -> None:
        queued = []
        while not self._ingress.empty():
            queued.append(self._ingress.get_nowait()[1])
        _fail(queued, EngineHalted(str(self.halt_reason)))

    def _step(self, event: Event, future: asyncio.Future[list[Decision]] | None) -> None:
        try:
            decisions = self.router.handle(event)
        except Exception as exc:
            log.exception("router failed on %r", event)
            if future is not None and not future.done():
                future.set_exception(exc)
            return
        self.replay(Step(event, decisions))
        if future is not None and not future.done():
            future.set_result(decisions)

    def replay(self, step: Step) -> None:
        """Hand a step to every listener, in order. The engine's own steps come here; so do a
        cluster standby's, which its replica applied (acd/cluster/replica.py)."""
        for listener in self._listeners:
            try:
                listener.on_step(step)
            except Exception:
                log.exception("listener %r failed on %r", listener, step.event)


def _fail(futures: Sequence[asyncio.Future[list[Decision]] | None], exc: BaseException) -> None:
    for future in futures:
        if future is not None and not future.done():
            future.set_exception(exc)
