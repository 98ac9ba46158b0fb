"""Token secrets at rest, on SQLite and PostgreSQL: a person-chosen secret under salted scrypt
(migration 0004 makes room for it), issued random ones under SHA-256, and what each costs."""

from __future__ import annotations

import asyncio
import hashlib
import time

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from acd.storage import Database, TokenInfo, hash_secret
from acd.storage.database import MIGRATIONS
from acd.storage.tables import api_tokens
from acd.storage.token_hash import slow_hash, verify_slow

CHOSEN = "Tr0ub4dor&3-is-what-a-person-picks"
ISSUED = "0QnR0l3cZ6mKpT1yq5J8vX2bW4eA9sD7fG3hK6jL1mN"


async def _hashes(database: Database) -> dict[str, str]:
    async with database.engine.connect() as conn:
        rows = (await conn.execute(sa.select(api_tokens))).all()
    return {row.name: row.secret_hash for row in rows}


async def test_a_chosen_secret_is_kept_under_a_salted_slow_hash(database: Database) -> None:
    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    await store.add_token("wall", "reader", ISSUED)
    stored = await _hashes(database)
    assert stored["wall"] == hash_secret(ISSUED)  # random: the fast digest, found by index
    assert stored["ACD_API_TOKEN"] != hash_secret(CHOSEN)
    assert CHOSEN not in stored["ACD_API_TOKEN"]
    assert stored["ACD_API_TOKEN"].startswith("scrypt$16384$8$1$")
    assert await store.find_token(CHOSEN) == TokenInfo("ACD_API_TOKEN", "admin", None)
    assert await store.find_token(ISSUED) == TokenInfo("wall", "reader", None)
    assert await store.find_token(CHOSEN + "!") is None
    # Stored again (every start does): another salt, the same secret still works.
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    assert (await _hashes(database))["ACD_API_TOKEN"] != stored["ACD_API_TOKEN"]
    assert await store.find_token(CHOSEN) == TokenInfo("ACD_API_TOKEN", "admin", None)


async def test_a_replaced_chosen_secret_is_forgotten(database: Database) -> None:
    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    assert await store.find_token(CHOSEN) is not None  # verified, remembered
    await store.add_token("ACD_API_TOKEN", "admin", "another-chosen-secret", chosen=True)
    assert await store.find_token(CHOSEN) is None
    assert await store.delete_token("ACD_API_TOKEN")
    assert await store.find_token("another-chosen-secret") is None


def test_one_guess_at_a_chosen_secret_costs_scrypt() -> None:
    stored = slow_hash(CHOSEN)
    started = time.perf_counter()
    assert not verify_slow("a-wrong-guess", stored)
    per_guess = time.perf_counter() - started
    started = time.perf_counter()
    for _ in range(1000):
        hashlib.sha256(b"a-wrong-guess").hexdigest()
    per_fast_guess = (time.perf_counter() - started) / 1000
    assert per_guess > 0.01, f"one guess took {per_guess * 1000:.1f} ms"
    assert per_guess > 1000 * per_fast_guess


async def test_wrong_tokens_do_not_hold_up_the_others(database: Database) -> None:
    """Each wrong token costs one scrypt, in a thread, one at a time: the event loop and the
    issued tokens' lookups go on meanwhile."""
    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    await store.add_token("wall", "reader", ISSUED)
    assert await store.find_token(CHOSEN) is not None
    wrong = [asyncio.create_task(store.find_token(f"guess-{i}")) for i in range(10)]
    await asyncio.sleep(0.01)
    assert await store.find_token(ISSUED) is not None
    assert await store.find_token(CHOSEN) is not None  # remembered: no scrypt
    # Answered while the wrong ones still wait their turn (ten scrypts take ≥ 0.1 s).
    assert sum(task.done() for task in wrong) < 10
    assert await asyncio.gather(*wrong) == [None] * 10


def _alembic(connection: sa.Connection, direction: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    getattr(command, direction)(config, revision)


async def test_migration_0004_makes_room_and_goes_back(database: Database) -> None:
    store = database.config
    await store.add_token("wall", "reader", ISSUED)
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    async with database.engine.begin() as conn:
        await conn.run_sync(_alembic, "downgrade", "0003")
    # The slow hash does not fit a 0003 column: gone (the next start stores it again).
    assert set(await _hashes(database)) == {"wall"}
    async with database.engine.begin() as conn:
        await conn.run_sync(_alembic, "upgrade", "head")
    assert await store.find_token(ISSUED) == TokenInfo("wall", "reader", None)
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    assert await store.find_token(CHOSEN) == TokenInfo("ACD_API_TOKEN", "admin", None)
    # Still one row per digest.
    with pytest.raises(sa.exc.IntegrityError):
        async with database.engine.begin() as conn:
            await conn.execute(
                sa.insert(api_tokens).values(
                    name="copy", role="reader", secret_hash=hash_secret(ISSUED), created_at=0.0
                )
            )
