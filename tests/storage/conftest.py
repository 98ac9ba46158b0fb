"""A migrated `Database` on SQLite (a file in tmp_path) and on the real PostgreSQL server;
`open_node` opens several (cluster nodes) on one store.

PostgreSQL runs go into a schema of their own, dropped afterwards, so parallel runs never see
each other's rows. When the server is unreachable the PostgreSQL cases fail under CI=true and
are skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from acd.storage import Database

PG_USERS = ("postgres", "root")
PG_HOST = os.environ.get("ACD_TEST_PG_HOST", "127.0.0.1:5432")


async def _pg_url() -> str:
    errors = []
    for user in PG_USERS:
        url = f"postgresql+asyncpg://{user}@{PG_HOST}/test"
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.execute(sa.text("select 1"))
            return url
        except Exception as exc:  # any failure to reach the server: try the next user
            errors.append(f"{user}: {exc}")
        finally:
            await engine.dispose()
    reason = f"PostgreSQL at {PG_HOST} (db test) unreachable: {'; '.join(errors)}"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


async def sqlite_database(path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{path}")
    await database.migrate()
    return database


@asynccontextmanager
async def _postgres_schema() -> AsyncIterator[tuple[str, str]]:
    """(url, schema): a schema of its own on the server, dropped afterwards."""
    url = await _pg_url()
    schema = f"acd_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(url)
    async with admin.begin() as conn:
        await conn.execute(sa.text(f'create schema "{schema}"'))
    try:
        yield url, schema
    finally:
        async with admin.begin() as conn:
            await conn.execute(sa.text(f'drop schema "{schema}" cascade'))
        await admin.dispose()


async def _postgres_database() -> AsyncIterator[Database]:
    async with _postgres_schema() as (url, schema):
        database = Database(url, schema=schema)
        try:
            await database.migrate()
            yield database
        finally:
            await database.close()


@pytest.fixture
def open_sqlite() -> Callable[[Path], Awaitable[Database]]:
    """Opens (and migrates) a SQLite database at a path: call twice to simulate a restart."""
    return sqlite_database


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    if request.param == "sqlite":
        db = await sqlite_database(tmp_path / "acd.sqlite3")
        try:
            yield db
        finally:
            await db.close()
    else:
        async for db in _postgres_database():
            yield db


OpenNode = Callable[..., Awaitable[Database]]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def open_node(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[OpenNode]:
    """`await open_node(fenced=True)`: one more migrated `Database` on one shared store (each
    node of a cluster has its own); all of them closed afterwards."""
    async with _store_url(request.param, tmp_path) as (url, schema):
        opened: list[Database] = []

        async def open_one(*, fenced: bool = True) -> Database:
            database = Database(url, schema=schema, fenced=fenced)
            opened.append(database)
            await database.migrate()
            return database

        try:
            yield open_one
        finally:
            for database in opened:
                await database.close()


@asynccontextmanager
async def _store_url(backend: str, tmp_path: Path) -> AsyncIterator[tuple[str, str | None]]:
    if backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}", None
    else:
        async with _postgres_schema() as (url, schema):
            yield url, schema
