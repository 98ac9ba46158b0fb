"""An agent state row the database refuses never holds back the other agents' rows (issue
#11): it is set aside in the dead letters and counted; a stop with the database down sets the
last rows aside too. On SQLite and on PostgreSQL (the `database` fixture of tests/storage)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from acd.engine import Engine
from acd.recovery import agent_states
from acd.recovery.agent_states import AgentStateWriter
from acd.router import events as ev
from acd.router.router import Router
from acd.storage import Database
from acd.storage.dead_letters import DeadLetters

T0 = 1_700_000_000.0
BOUND = 5.0


def engine_with(store: Any, **writer: Any) -> tuple[Engine, AgentStateWriter]:
    router = Router()
    for agent_id in ("a1", "a2", "a3"):
        router.handle(ev.AgentUpserted(T0, agent_id))
    engine = Engine(router, lambda: T0)
    state_writer = AgentStateWriter(router, store, delay=0.0, **writer)
    engine.add_listener(state_writer)
    engine.start()
    return engine, state_writer


async def refuse_pause_reason(database: Database, reason: str) -> None:
    """Make the database refuse one value, as a too long or otherwise bad one would be."""
    if database.backend == "sqlite":
        trigger = f"""CREATE TRIGGER poison BEFORE INSERT ON acd_agent_states
            WHEN NEW.pause_reason = '{reason}'
            BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"""
        async with database.engine.begin() as conn:
            await conn.execute(sa.text(trigger))
    else:
        async with database.engine.begin() as conn:
            await conn.execute(
                sa.text(
                    "ALTER TABLE acd_agent_states ADD CONSTRAINT poison "
                    f"CHECK (pause_reason IS DISTINCT FROM '{reason}')"
                )
            )


async def test_a_refused_agent_state_does_not_hold_back_the_others(
    database: Database, tmp_path: Path
) -> None:
    await refuse_pause_reason(database, "poison")
    engine, writer = engine_with(database.agent_states, **dead_letters(tmp_path))
    try:
        for agent_id in ("a1", "a2", "a3"):
            await engine.submit(lambda now, a=agent_id: ev.AgentLoggedIn(now, a))
        await engine.submit(lambda now: ev.AgentPaused(now, "a2", "poison"))
        async with asyncio.timeout(BOUND):
            await writer.flush()
        await engine.submit(lambda now: ev.AgentPaused(now, "a1", "lunch"))
        async with asyncio.timeout(BOUND):
            await writer.flush()
        stored = {
            row.agent_id: (row.state, row.pause_reason)
            for row in await database.agent_states.load()
        }
        assert stored["a1"] == ("paused", "lunch")
        assert stored["a3"] == ("available", None)
        assert stored.get("a2", ("?", None))[1] != "poison"
        dead = read_dead(tmp_path)
        assert [(d["kind"], d["row"]["agent_id"], d["row"]["pause_reason"]) for d in dead] == [
            ("agent_state", "a2", "poison")
        ]
    finally:
        await engine.stop()
        async with asyncio.timeout(BOUND):
            await writer.close()


class DownStore:
    async def save(self, rows: Any) -> None:
        raise ConnectionRefusedError(111, "Connect call failed")

    async def load(self) -> list[Any]:
        return []


async def test_a_stop_with_the_database_down_sets_the_last_rows_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_states, "RETRY_FIRST", 0.01)
    engine, writer = engine_with(DownStore(), close_timeout=0.2, **dead_letters(tmp_path))
    await engine.submit(lambda now: ev.AgentLoggedIn(now, "a1"))
    await engine.stop()
    async with asyncio.timeout(BOUND):
        await writer.close()
    dead = read_dead(tmp_path)
    assert [(d["kind"], d["row"]["agent_id"], d["row"]["state"]) for d in dead] == [
        ("agent_state", "a1", "available")
    ]
    assert "not written within 0.2 s" in dead[0]["reason"]


def dead_letters(tmp_path: Path) -> dict[str, Any]:
    return {"dead_letters": DeadLetters(tmp_path / "dead_letters.jsonl")}


def read_dead(tmp_path: Path) -> list[dict[str, Any]]:
    path = tmp_path / "dead_letters.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines()]
