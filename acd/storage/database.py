"""One `Database` per process: the async engine, migrations, and the stores (configuration,
records, durable agent states)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from acd.private_files import private_file, tighten
from acd.storage.agent_state_store import AgentStateStore
from acd.storage.config_store import ConfigStore
from acd.storage.fence import SESSION_SETTINGS, WriteFence
from acd.storage.monitor_log import MonitorLogStore
from acd.storage.record_store import RecordStore

MIGRATIONS = Path(__file__).parent / "migrations"
#: pg_advisory_xact_lock key of `migrate` ("acdmigr" as a number; any constant of ours).
MIGRATE_LOCK = 0x6163646D69677200 >> 8
SQLITE_SIBLINGS = ("-wal", "-shm", "-journal")


class Database:
    """`Database(url)`: SQLite (`sqlite+aiosqlite:///path`) or PostgreSQL
    (`postgresql+asyncpg://user@host/db`). `schema` (PostgreSQL only) puts every table in that
    schema through the connection's search_path, so parallel test runs stay apart.

    `fenced` (a cluster node): `fence` is a `WriteFence` the records and agent states check
    in every write (`acd.storage.fence`; claim it on becoming leader), and its PostgreSQL
    sessions end when idle in a transaction (`SESSION_SETTINGS`). Unfenced (a single node):
    `fence` is None and no write pays for it."""

    def __init__(self, url: str, *, schema: str | None = None, fenced: bool = False) -> None:
        parsed = make_url(url)
        connect_args: dict[str, Any] = {}
        self.backend = parsed.get_backend_name()
        if self.backend == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                _private_sqlite(Path(parsed.database))
            connect_args["timeout"] = 30  # wait for the other writer instead of failing
        else:
            settings = dict(SESSION_SETTINGS) if fenced else {}
            if schema is not None:
                settings["search_path"] = schema
            if settings:
                connect_args["server_settings"] = settings
        self.url = url
        self.engine = create_async_engine(url, connect_args=connect_args)
        if self.backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.fence = WriteFence(self.engine) if fenced else None
        self.config = ConfigStore(self.engine, fence=self.fence)
        self.records = RecordStore(self.engine, self.fence)
        self.agent_states = AgentStateStore(self.engine, self.fence)
        self.monitor_log = MonitorLogStore(self.engine, self.fence)

    async def migrate(self) -> None:
        """Bring the schema to the newest revision (creates everything on an empty database).
        On PostgreSQL the nodes of a cluster may start together: a transaction-scoped advisory
        lock lets one migrate while the others wait, then find the schema at its head."""
        async with self.engine.begin() as conn:
            if self.backend == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            await conn.run_sync(_upgrade)

    async def close(self) -> None:
        await self.engine.dispose()


def _upgrade(connection: Connection) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def _private_sqlite(path: Path) -> None:
    """The database holds caller data: created 0600 before SQLite opens it, which then gives
    its -wal, -shm and -journal files the same mode; any of them found looser is tightened."""
    private_file(path)
    for suffix in SQLITE_SIBLINGS:
        tighten(path.with_name(path.name + suffix))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets the API read while the recorder writes; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()
