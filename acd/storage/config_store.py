"""Configuration at rest: queues, agents and API tokens.

Queues are stored as the contract's queue document (`queue_to_dict` / `parse_queue`), so the
file, the API and the database share one shape. API tokens are stored as hashes only
(`acd.storage.token_hash`): issued (random) secrets as SHA-256 digests, which `find_token` finds
by the unique index; a person-chosen secret (the configured token) under salted scrypt, which
nothing on the request path computes: `find_token` never matches such a row (a wrong token
costs one indexed lookup), the token service compares the configured secret in memory and asks
only `stored_hash` whether its row is still the one stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Row, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from acd.config import AgentSeed, ConfigError, Settings, parse_skills, queue_to_dict
from acd.config.documents import ROLES, parse_stored_queue
from acd.errors import Invalid
from acd.router.model import QueueConfig
from acd.storage import token_hash
from acd.storage.fence import WriteFence, begin_write
from acd.storage.tables import agents, api_tokens, meta, queues
from acd.storage.upsert import upsert

_SEEDED_KEY = "seeded_at"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TokenInfo:
    name: str
    role: str
    agent_id: str | None


def hash_secret(secret: str) -> str:
    """The stored form of an issued (random) secret."""
    return token_hash.fast_digest(secret)


class ConfigStore:
    def __init__(
        self,
        engine: AsyncEngine,
        clock: Callable[[], float] = time.time,
        fence: WriteFence | None = None,
    ) -> None:
        """`fence` (a cluster node): queue and agent writes are the store owner's only
        (`acd.storage.fence`); tokens are not fenced: every node stores the same admin
        token, and a standby may be the first to start."""
        self._fence = fence
        self._engine = engine
        self._clock = clock

    # --- queues -------------------------------------------------------------------------

    async def list_queues(self) -> list[QueueConfig]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(
                select(queues.c.name, queues.c.document).order_by(queues.c.name)
            )
            found = []
            for row in rows:
                try:
                    found.append(parse_stored_queue(row.document, f"stored queue {row.name}"))
                except ConfigError as exc:
                    # Stored under an older, looser rule: keep the row for the operator to
                    # fix (PUT it again) rather than refuse to start every other queue.
                    log.error(
                        "stored queue %r is not valid any more, not loaded: %s", row.name, exc
                    )
            return found

    async def get_queue(self, name: str) -> QueueConfig | None:
        async with self._engine.connect() as conn:
            document = await conn.scalar(select(queues.c.document).where(queues.c.name == name))
        return None if document is None else parse_stored_queue(document, f"stored queue {name}")

    async def put_queue(self, queue: QueueConfig) -> None:
        """Create or replace the queue named `queue.name`."""
        values = {"document": queue_to_dict(queue), "updated_at": self._clock()}
        async with begin_write(self._engine, self._fence) as conn:
            await upsert(conn, queues, {"name": queue.name}, values)

    async def delete_queue(self, name: str) -> bool:
        async with begin_write(self._engine, self._fence) as conn:
            result = await conn.execute(delete(queues).where(queues.c.name == name))
        return result.rowcount > 0

    # --- agents -------------------------------------------------------------------------

    async def list_agents(self) -> list[AgentSeed]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(agents).order_by(agents.c.id))
            return [_agent(row) for row in rows]

    async def get_agent(self, agent_id: str) -> AgentSeed | None:
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(agents).where(agents.c.id == agent_id))).first()
        return None if row is None else _agent(row)

    async def put_agent(self, agent: AgentSeed) -> None:
        values = {
            "name": agent.name,
            "contact": agent.contact,
            "skills": dict(agent.skills),
            "updated_at": self._clock(),
        }
        async with begin_write(self._engine, self._fence) as conn:
            await upsert(conn, agents, {"id": agent.id}, values)

    async def delete_agent(self, agent_id: str) -> bool:
        async with begin_write(self._engine, self._fence) as conn:
            result = await conn.execute(delete(agents).where(agents.c.id == agent_id))
        return result.rowcount > 0

    # --- API tokens ---------------------------------------------------------------------

    async def add_token(
        self,
        name: str,
        role: str,
        secret: str,
        agent_id: str | None = None,
        *,
        chosen: bool = False,
    ) -> None:
        """Store (or replace, by name) a token; only a hash of the secret is kept. `chosen`:
        a person chose the secret (it gets the slow salted hash); else it is random."""
        if role not in ROLES:
            raise Invalid(f"role must be one of {', '.join(ROLES)}", field="role")
        if not secret:
            raise Invalid("the secret must not be empty", field="secret")
        if role == "agent" and not agent_id:
            raise Invalid("an agent token names its agent", field="agent_id")
        values = {
            "role": role,
            "secret_hash": token_hash.slow_hash(secret) if chosen else hash_secret(secret),
            "agent_id": agent_id,
            "created_at": self._clock(),
        }
        async with self._engine.begin() as conn:
            # The same secret under another name would break the unique digest: it moves here.
            await conn.execute(
                delete(api_tokens).where(
                    api_tokens.c.secret_hash == values["secret_hash"], api_tokens.c.name != name
                )
            )
            await upsert(conn, api_tokens, {"name": name}, values)

    async def find_token(self, secret: str) -> TokenInfo | None:
        """The issued token whose digest `secret` has (one indexed lookup, no slow hash)."""
        if not secret:
            return None
        query = select(api_tokens).where(api_tokens.c.secret_hash == hash_secret(secret))
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else TokenInfo(row.name, row.role, row.agent_id)

    async def holds_current(self, name: str, secret: str) -> bool:
        """Whether the token `name` is stored for `secret` under today's slow-hash parameters
        (storing it again would change only the salt)."""
        stored = await self.stored_hash(name)
        return stored is not None and await asyncio.to_thread(
            token_hash.current_for, secret, stored
        )

    async def stored_hash(self, name: str) -> str | None:
        """The stored form of the token named `name` (None: no such token)."""
        query = select(api_tokens.c.secret_hash).where(api_tokens.c.name == name)
        async with self._engine.connect() as conn:
            stored: str | None = await conn.scalar(query)
        return stored

    async def list_tokens(self) -> list[TokenInfo]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(select(api_tokens).order_by(api_tokens.c.name))
            return [TokenInfo(row.name, row.role, row.agent_id) for row in rows]

    async def delete_token(self, name: str) -> bool:
        async with self._engine.begin() as conn:
            result = await conn.execute(delete(api_tokens).where(api_tokens.c.name == name))
        return result.rowcount > 0

    async def delete_agent_tokens(self, agent_id: str) -> list[str]:
        """Revoke every token of an agent; the names revoked."""
        where = api_tokens.c.agent_id == agent_id
        async with self._engine.begin() as conn:
            names = list((await conn.scalars(select(api_tokens.c.name).where(where))).all())
            await conn.execute(delete(api_tokens).where(where))
        return names

    # --- first start ----------------------------------------------------------------------

    async def seed(self, settings: Settings) -> bool:
        """Copy the file's queues and agents into the store on first start only.

        "First start" is remembered in `acd_meta`, not inferred from empty tables: an operator
        who deletes every queue through the API does not get the file's queues back at the
        next restart. A store that already holds queues or agents (say, migrated by hand) is
        never seeded either. Returns True when it seeded.
        """
        async with self._engine.begin() as conn:
            if await conn.scalar(select(meta.c.value).where(meta.c.key == _SEEDED_KEY)):
                return False
            existing = await conn.scalar(select(func.count()).select_from(queues))
            existing = (existing or 0) + (
                await conn.scalar(select(func.count()).select_from(agents)) or 0
            )
            now = self._clock()
            await conn.execute(insert(meta).values(key=_SEEDED_KEY, value=repr(now)))
            if existing:
                return False
            for queue in settings.queues:
                values = {"document": queue_to_dict(queue), "updated_at": now}
                await upsert(conn, queues, {"name": queue.name}, values)
            for agent in settings.agents:
                values = {
                    "name": agent.name,
                    "contact": agent.contact,
                    "skills": dict(agent.skills),
                    "updated_at": now,
                }
                await upsert(conn, agents, {"id": agent.id}, values)
        return True


def _agent(row: Row[Any]) -> AgentSeed:
    return AgentSeed(
        row.id,
        row.name,
        row.contact,
        parse_skills(row.skills, f"stored agent {row.id}.skills"),
    )
