"""Durable agent states on SQLite and on the real PostgreSQL server."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

from acd.storage import Database, StoredAgentState
from acd.storage.database import MIGRATIONS

T0 = 1_700_000_000.0


def row(agent_id: str, state: str = "available", **changes: object) -> StoredAgentState:
    stored = StoredAgentState(
        agent_id=agent_id,
        state=state,
        pause_reason=None,
        idle_since=T0,
        pending=None,
        pending_reason=None,
        wrap_until=None,
        rona_until=None,
        updated_at=T0,
    )
    return replace(stored, **changes)  # type: ignore[arg-type]


async def test_a_fresh_database_has_no_agent_states(database: Database) -> None:
    assert await database.agent_states.load() == []
    await database.agent_states.save([])  # nothing to write is fine
    assert await database.agent_states.load() == []


async def test_save_and_load_every_field(database: Database) -> None:
    store = database.agent_states
    rows = [
        row(
            "1002",
            "paused",
            pause_reason="lunch " + "x" * 300,
            idle_since=T0 + 0.123456,
            state_since=T0 + 7.5,
        ),
        row("1001", state_since=T0),
        row("1003", "wrap_up", pending="pause", pending_reason="", wrap_until=T0 + 30.5),
        row("1004", "paused", pause_reason="rona", rona_until=T0 + 12.25),
        row("1005", "busy", pending="logout"),
        row("1006", "logged_out", idle_since=None),
    ]
    await store.save(rows)
    assert await store.load() == sorted(rows, key=lambda r: r.agent_id)


async def test_upsert_by_agent_the_last_row_of_a_batch_wins(database: Database) -> None:
    store = database.agent_states
    first = row("1001", updated_at=T0)
    await store.save([first, row("1002")])
    paused = row("1001", "paused", pause_reason="lunch", updated_at=T0 + 1)
    out = row("1001", "logged_out", idle_since=None, updated_at=T0 + 2)
    await store.save([paused, out])
    loaded = {r.agent_id: r for r in await store.load()}
    assert loaded == {"1001": out, "1002": row("1002")}
    # Nullable fields go back to None when a later row says so.
    await store.save([replace(paused, updated_at=T0 + 3)])
    await store.save([replace(paused, pause_reason=None, state="available", updated_at=T0 + 4)])
    [again, _] = await store.load()
    assert (again.state, again.pause_reason, again.updated_at) == ("available", None, T0 + 4)


async def test_a_database_at_revision_0001_gets_the_table(tmp_path: Path) -> None:
    """A store created before durable agent states were stored upgrades in place."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:

        def to_0001(connection: Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0001")

        async with database.engine.begin() as conn:
            await conn.run_sync(to_0001)
            tables = await conn.run_sync(lambda c: sa.inspect(c).get_table_names())
        assert "acd_agent_states" not in tables
        await database.migrate()
        await database.agent_states.save([row("1001")])
        assert await database.agent_states.load() == [row("1001")]
    finally:
        await database.close()


async def test_rows_survive_reopening_the_file(
    tmp_path: Path, open_sqlite: Callable[[Path], Awaitable[Database]]
) -> None:
    path = tmp_path / "acd.sqlite3"
    first = await open_sqlite(path)
    await first.agent_states.save([row("1001", "paused", pause_reason="lunch")])
    await first.close()
    second = await open_sqlite(path)
    try:
        assert await second.agent_states.load() == [row("1001", "paused", pause_reason="lunch")]
    finally:
        await second.close()


async def test_a_database_at_revision_0005_gets_state_since_and_keeps_its_rows(
    tmp_path: Path,
) -> None:
    """A row stored before the moment of the state was kept comes back without one."""
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:

        def to_0005(connection: Connection) -> None:
            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            config.attributes["connection"] = connection
            command.upgrade(config, "0005")
            connection.execute(
                sa.text(
                    "INSERT INTO acd_agent_states (agent_id, state, idle_since, updated_at)"
                    " VALUES ('1001', 'paused', :t, :t)"
                ),
                {"t": T0},
            )

        async with database.engine.begin() as conn:
            await conn.run_sync(to_0005)
        await database.migrate()
        [old] = await database.agent_states.load()
        assert (old.agent_id, old.state, old.state_since) == ("1001", "paused", None)
        await database.agent_states.save([row("1002", state_since=T0 + 3)])
        assert [r.state_since for r in await database.agent_states.load()] == [None, T0 + 3]
    finally:
        await database.close()
