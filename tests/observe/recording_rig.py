"""A recorder wired like `acd serve` wires it: real Router, Engine, Database (SQLite file),
Metrics and queue_log, with a hand-driven clock so every duration is known in advance."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from acd.engine import Engine, EventFactory
from acd.observe.metrics import Metrics
from acd.observe.queue_log import QueueLog
from acd.observe.records import Recorder
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
    metrics: Metrics
    recorder: Recorder
    queue_log_path: Path

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
    metrics = Metrics(router, clock)
    queue_log_path = path / "queue_log"
    recorder = Recorder(metrics, database.records, QueueLog(queue_log_path), router, clock)
    await recorder.load()
    engine = Engine(router, clock)
    engine.add_listener(recorder)
    engine.start()
    return Rig(clock, clock.now, router, engine, database, metrics, recorder, queue_log_path)


async def close_rig(rig: Rig) -> None:
    await rig.engine.stop()
    await rig.recorder.close()
    await rig.database.close()
