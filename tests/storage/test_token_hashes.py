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
    assert verify_slow(CHOSEN, stored["ACD_API_TOKEN"])
    assert not verify_slow(CHOSEN + "!", stored["ACD_API_TOKEN"])
    assert await store.stored_hash("ACD_API_TOKEN") == stored["ACD_API_TOKEN"]
    assert await store.find_token(ISSUED) == TokenInfo("wall", "reader", None)
    # Stored again (every start does): another salt, the same secret.
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    again = (await _hashes(database))["ACD_API_TOKEN"]
    assert again != stored["ACD_API_TOKEN"]
    assert verify_slow(CHOSEN, again)


async def test_find_token_never_runs_the_slow_hash(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request path finds issued tokens by index; a scrypt row is the token service's
    (compared in memory with the configured secret), never found by guessing here."""
    from acd.storage import token_hash

    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    await store.add_token("wall", "reader", ISSUED)
    runs: list[str] = []
    monkeypatch.setattr(token_hash, "verify_slow", lambda s, h: runs.append(s) or False)
    assert await store.find_token(CHOSEN) is None
    assert await store.find_token("guess") is None
    assert await store.find_token(ISSUED) == TokenInfo("wall", "reader", None)
    assert runs == []


async def test_a_replaced_or_revoked_chosen_secret_has_another_or_no_stored_hash(
    database: Database,
) -> None:
    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    first = await store.stored_hash("ACD_API_TOKEN")
    await store.add_token("ACD_API_TOKEN", "admin", "another-chosen-secret", chosen=True)
    second = await store.stored_hash("ACD_API_TOKEN")
    assert first is not None
    assert second is not None
    assert first != second
    assert not verify_slow(CHOSEN, second)
    assert await store.delete_token("ACD_API_TOKEN")
    assert await store.stored_hash("ACD_API_TOKEN") is None


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
    """A wrong token costs one indexed lookup: a hundred of them take less than one scrypt."""
    store = database.config
    await store.add_token("ACD_API_TOKEN", "admin", CHOSEN, chosen=True)
    await store.add_token("wall", "reader", ISSUED)
    stored = slow_hash(CHOSEN)
    started = time.perf_counter()
    verify_slow("a-wrong-guess", stored)
    one_scrypt = time.perf_counter() - started
    started = time.perf_counter()
    wrong = await asyncio.gather(*(store.find_token(f"guess-{i}") for i in range(100)))
    assert wrong == [None] * 100
    assert await store.find_token(ISSUED) is not None
    took = time.perf_counter() - started
    assert took < 100 * one_scrypt / 10, f"100 wrong tokens {took:.3f}s, scrypt {one_scrypt:.3f}s"


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
    stored = await store.stored_hash("ACD_API_TOKEN")
    assert stored is not None
    assert verify_slow(CHOSEN, stored)
    # Still one row per digest.
    with pytest.raises(sa.exc.IntegrityError):
        async with database.engine.begin() as conn:
            await conn.execute(
                sa.insert(api_tokens).values(
                    name="copy", role="reader", secret_hash=hash_secret(ISSUED), created_at=0.0
                )
            )
