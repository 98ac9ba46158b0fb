"""Storage: configuration (queues, agents, hashed API tokens), records (calls, agent state
intervals) and the durable agent states (`database.agent_states`, see `acd.recovery`) in
SQLite (embedded default) or PostgreSQL, through SQLAlchemy's async engine. Rows the database
refuses are set aside in `<var_dir>/dead_letters.jsonl` (`rejects.py`, `dead_letters.py`);
files holding caller data are created 0600 in a 0700 directory (`acd.private_files`).

    database = Database(settings.storage.resolved_url())
    await database.migrate()            # Alembic, to the newest revision
    await database.config.seed(settings)  # first start only
    ...
    await database.close()
"""

from acd.storage.agent_state_store import AgentStateStore, StoredAgentState
from acd.storage.config_store import ConfigStore, TokenInfo, hash_secret
from acd.storage.database import Database
from acd.storage.record_store import AgentInterval, CallRecord, RecordStore

__all__ = [
    "AgentInterval",
    "AgentStateStore",
    "CallRecord",
    "ConfigStore",
    "Database",
    "RecordStore",
    "StoredAgentState",
    "TokenInfo",
    "hash_secret",
]
