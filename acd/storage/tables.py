"""The schema, in one place. Alembic revisions under `migrations/` create exactly this.

Times are epoch seconds as floats (the engine's clock), so records and routing agree to the
microsecond and no time-zone conversion happens between SQLite and PostgreSQL.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

queues = Table(
    "acd_queues",
    metadata,
    Column("name", String(100), primary_key=True),
    # The contract's queue document (acd.config.queue_to_dict): new keys need no migration.
    Column("document", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

agents = Table(
    "acd_agents",
    metadata,
    Column("id", String(100), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("contact", String(200), nullable=False),
    Column("skills", JSON, nullable=False),
    Column("updated_at", Float, nullable=False),
)

api_tokens = Table(
    "acd_api_tokens",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("role", String(20), nullable=False),
    # SHA-256 hex of an issued (random) secret, or a salted scrypt hash of the configured
    # one (`acd.storage.token_hash`; widened from 64 by migration 0004).
    Column("secret_hash", String(255), nullable=False, unique=True),
    Column("agent_id", String(100), nullable=True),
    Column("created_at", Float, nullable=False),
)

meta = Table(
    "acd_meta",
    metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# One row per call per queue visit ("leg"): a call that overflows from A to B has a row in A
# (outcome overflowed) and one in B; a call that never overflows has exactly one row.
call_records = Table(
    "acd_call_records",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("call_id", String(150), nullable=False, index=True),
    Column("leg", Integer, nullable=False),
    Column("queue", String(100), nullable=False, index=True),
    Column("priority", Integer, nullable=False),
    Column("arrived", Float, nullable=False),
    Column("entered", Float, nullable=False, index=True),
    Column("offered", Float, nullable=True),
    Column("answered", Float, nullable=True),
    Column("ended", Float, nullable=True),
    Column("agent_id", String(100), nullable=True, index=True),
    Column("outcome", String(32), nullable=True),
    Column("exit_reason", String(64), nullable=True),
    Column("wait", Float, nullable=True),
    Column("talk", Float, nullable=True),
    Column("wrap_up", Float, nullable=True),
    Column("rona_count", Integer, nullable=False),
    Column("caller_data", Text, nullable=True),
    Column("callback_requested", Boolean, nullable=False),
    Column("exit_key", String(8), nullable=True),
    Column("overflowed_to", String(100), nullable=True),
    Column("hung_up_by", String(10), nullable=True),
    # An accepted callback's dial string and the call's own skills (migration 0003).
    Column("callback_to", String(200), nullable=True),
    Column("extra_skills", Text, nullable=True),
    # A blind transfer (migration 0008): the target queue on the visit it ended; on the one it
    # opened whether the caller kept its place and the transferring agent's note.
    Column("transferred_to", String(100), nullable=True),
    Column("kept_place", Boolean, nullable=True),
    Column("transfer_note", Text, nullable=True),
    # The queue's thresholds when the call entered: reports stay right after a config change.
    Column("sl_threshold", Float, nullable=False),
    Column("short_abandon", Float, nullable=False),
)

agent_intervals = Table(
    "acd_agent_intervals",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("agent_id", String(100), nullable=False, index=True),
    Column("state", String(20), nullable=False),
    Column("reason", String(100), nullable=True),
    Column("start", Float, nullable=False, index=True),
    Column("end", Float, nullable=True),
)

# The durable part of each agent's routing state (`acd.recovery`): written as it changes,
# read back at start so a restart keeps logins, pauses, wrap-ups, pending requests and the
# longest-idle order. One row per agent; a logged-out agent keeps a row saying so.
agent_states = Table(
    "acd_agent_states",
    metadata,
    Column("agent_id", String(100), primary_key=True),
    Column("state", String(20), nullable=False),
    Column("pause_reason", Text, nullable=True),
    Column("idle_since", Float, nullable=True),
    Column("pending", String(10), nullable=True),
    Column("pending_reason", Text, nullable=True),
    Column("wrap_until", Float, nullable=True),
    Column("rona_until", Float, nullable=True),
    Column("updated_at", Float, nullable=False),
    # When the agent entered `state` (NULL in rows stored before it was kept: migration 0006)
    Column("state_since", Float, nullable=True),
)

# The supervisors' audit log (`acd.service.monitor`): one row per listen / whisper / barge
# request that reached Asterisk, who asked (token name and role), when, on which agent's call,
# where the supervisor was called, and how the dial went (`result`, set once it is over).
monitor_log = Table(
    "acd_monitor_log",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("at", Float, nullable=False, index=True),
    Column("token", String(100), nullable=False),
    Column("role", String(20), nullable=False),
    Column("agent_id", String(100), nullable=False, index=True),
    Column("call_id", String(150), nullable=False),
    Column("mode", String(10), nullable=False),
    Column("contact", String(200), nullable=False),
    Column("result", String(32), nullable=False),
)

# The PostgreSQL write fence of a cluster (`acd.storage.fence`): one row (id 1) holding the
# lease token of the leader that owns the store; a write batch of any other token aborts.
cluster_fence = Table(
    "cluster_fence",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", BigInteger, nullable=False, server_default="0"),
)
