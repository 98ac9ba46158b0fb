"""The observers wired as `acd serve` wires them (`acd.compose.observe`): real Router, Engine,
Database (SQLite file), call records, batch writer, queue_log and metrics, with a hand-driven
clock so every duration is known in advance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acd.compose import Observers, observe
from acd.engine import Engine, EventFactory
from acd.observe.metrics import Metrics
from acd.observe.records import CallRecorder
from acd.observe.store_writer import StoredCalls
from acd.observe.writer import BatchWriter
from acd.router.decisions import Decision
from acd.router.events import Tick
from acd.router.router import Router
from acd.storage import Database


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    clock: FakeClock
    start: float
    router: Router
    engine: Engine
    database: Database
    observers: Observers
    queue_log_path: Path

    @property
    def metrics(self) -> Metrics:
        return self.observers.metrics

    @property
    def recorder(self) -> CallRecorder:
        return self.observers.recorder

    @property
    def writer(self) -> BatchWriter:
        return self.observers.writer

    @property
    def calls(self) -> StoredCalls:
        return self.observers.calls

    async def at(self, offset: float, factory: EventFactory) -> list[Decision]:
        """Advance to start + offset, run the deadlines due by then, then the event."""
        await self.tick(offset)
        return await self.engine.submit(factory)

    async def tick(self, offset: float) -> None:
        assert self.start + offset >= self.clock.now, "the script must not go back in time"
        self.clock.now = self.start + offset
        await self.engine.submit(lambda now: Tick(now))

    def queue_log(self) -> list[str]:
        return self.queue_log_path.read_text().splitlines()


async def build_rig(path: Path, clock: FakeClock) -> Rig:
    database = Database(f"sqlite+aiosqlite:///{path / 'acd.sqlite3'}")
    await database.migrate()
    router = Router()
    queue_log_path = path / "queue_log"
    observers = await observe(router, database.records, path, clock)
    engine = Engine(router, clock)
    observers.listen(engine)
    engine.start()
    return Rig(clock, clock.now, router, engine, database, observers, queue_log_path)


async def close_rig(rig: Rig) -> None:
    await rig.engine.stop()
    await rig.writer.close()
    await rig.database.close()
