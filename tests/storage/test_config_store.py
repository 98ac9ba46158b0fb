from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from acd.config import AgentSeed, Settings, parse_queue, queue_to_dict
from acd.errors import Invalid
from acd.router.model import EscalationStep, QueueConfig
from acd.storage import Database, TokenInfo, hash_secret
from acd.storage.tables import api_tokens, queues


async def test_queue_round_trip_upsert_and_delete(database: Database) -> None:
    store = database.config
    support = parse_queue(
        {
            "name": "support",
            "skills": {"support": 2},
            "sl_threshold": 30,
            "overflow": "sales",
            "escalation": [{"after": 30, "skills": {"support": 1}}],
        }
    )
    await store.put_queue(support)
    await store.put_queue(QueueConfig("billing"))
    assert await store.get_queue("support") == support
    assert [q.name for q in await store.list_queues()] == ["billing", "support"]

    changed = QueueConfig("support", priority=3, escalation=(EscalationStep(10.0),))
    await store.put_queue(changed)
    assert await store.get_queue("support") == changed
    assert len(await store.list_queues()) == 2

    assert await store.delete_queue("support") is True
    assert await store.delete_queue("support") is False
    assert await store.get_queue("support") is None


async def test_a_queue_keeps_its_target_and_pause_reasons_in_the_store(database: Database) -> None:
    store = database.config
    queue = parse_queue(
        {
            "name": "support",
            "sl_target": 0.95,
            "pause_reasons": [{"code": "lunch", "label": "Lunch"}, {"code": "7", "label": "Té"}],
        }
    )
    await store.put_queue(queue)
    assert await store.get_queue("support") == queue
    assert await store.list_queues() == [queue]


async def test_a_queue_stored_before_the_target_and_reasons_takes_their_defaults(
    database: Database,
) -> None:
    document = queue_to_dict(QueueConfig("old"))
    del document["sl_target"], document["pause_reasons"]
    async with database.engine.begin() as conn:
        await conn.execute(sa.insert(queues).values(name="old", document=document, updated_at=0.0))
    assert await database.config.get_queue("old") == QueueConfig("old")


async def test_agent_round_trip(database: Database) -> None:
    store = database.config
    ada = AgentSeed("1001", "Ada", "PJSIP/1001", {"support": 5, "german": 3})
    await store.put_agent(ada)
    assert await store.get_agent("1001") == ada
    await store.put_agent(AgentSeed("1001", "Ada L.", "PJSIP/1001", {"support": 6}))
    got = await store.get_agent("1001")
    assert got is not None
    assert got.name == "Ada L."
    assert dict(got.skills) == {"support": 6}
    await store.put_agent(AgentSeed("0999"))
    assert [a.id for a in await store.list_agents()] == ["0999", "1001"]
    assert await store.delete_agent("1001") is True
    assert await store.delete_agent("1001") is False
    assert await store.get_agent("1001") is None


async def test_tokens_are_hashed_at_rest(database: Database) -> None:
    store = database.config
    await store.add_token("ops", "admin", "s3cret-admin-token")
    await store.add_token("ada", "agent", "ada-token", agent_id="1001")
    assert await store.find_token("s3cret-admin-token") == TokenInfo("ops", "admin", None)
    assert await store.find_token("ada-token") == TokenInfo("ada", "agent", "1001")
    assert await store.find_token("wrong") is None
    assert await store.find_token("") is None
    async with database.engine.connect() as conn:
        stored = (await conn.execute(sa.select(api_tokens.c.secret_hash))).scalars().all()
    assert "s3cret-admin-token" not in stored
    assert hash_secret("s3cret-admin-token") in stored

    await store.add_token("ops", "reader", "rotated")  # same name: replaced
    assert await store.find_token("s3cret-admin-token") is None
    assert await store.find_token("rotated") == TokenInfo("ops", "reader", None)
    assert [t.name for t in await store.list_tokens()] == ["ada", "ops"]
    assert await store.delete_token("ada") is True
    assert await store.find_token("ada-token") is None


async def test_token_validation(database: Database) -> None:
    with pytest.raises(Invalid):
        await database.config.add_token("x", "root", "secret")
    with pytest.raises(Invalid):
        await database.config.add_token("x", "agent", "secret")
    with pytest.raises(Invalid):
        await database.config.add_token("x", "admin", "")


async def test_seed_only_at_first_start(
    tmp_path: Path, open_sqlite: Callable[[Path], Awaitable[Database]]
) -> None:
    path = tmp_path / "acd.sqlite3"
    settings = Settings(queues=(QueueConfig("support"),), agents=(AgentSeed("1001", "Ada"),))
    first = await open_sqlite(path)
    try:
        assert await first.config.seed(settings) is True
        assert [q.name for q in await first.config.list_queues()] == ["support"]
        assert await first.config.delete_queue("support")
        await first.config.put_queue(QueueConfig("sales"))
    finally:
        await first.close()

    again = await open_sqlite(path)  # a restart: migrations are a no-op, changes persist
    try:
        assert await again.config.seed(settings) is False
        assert [q.name for q in await again.config.list_queues()] == ["sales"]
        assert [a.id for a in await again.config.list_agents()] == ["1001"]
    finally:
        await again.close()


async def test_seed_skips_a_store_that_already_has_configuration(database: Database) -> None:
    await database.config.put_agent(AgentSeed("7"))
    assert await database.config.seed(Settings(queues=(QueueConfig("q"),))) is False
    assert await database.config.list_queues() == []


async def test_migrations_create_every_table_on_an_empty_database(database: Database) -> None:
    def names(conn: sa.Connection) -> set[str]:
        return set(sa.inspect(conn).get_table_names())

    async with database.engine.connect() as conn:
        tables = await conn.run_sync(names)
    assert {
        "acd_queues",
        "acd_agents",
        "acd_api_tokens",
        "acd_meta",
        "acd_call_records",
        "acd_agent_intervals",
        "alembic_version",
    } <= tables
    await database.migrate()  # idempotent
