"""The nodes of a cluster share the store and its admin token: a node keeps accepting the
configured token when another node stored the same secret again (a new salt: both started on
an empty store), and refuses it once the stored token is another secret (replaced)."""

from __future__ import annotations

from pathlib import Path

from acd.service.directory import AgentDirectory
from acd.service.tokens import CONFIGURED_NAME, TokenService
from acd.storage import Database

SECRET = "cluster-shared-admin-token-0123456789abc"


async def test_a_node_follows_another_nodes_rehash_of_the_same_secret(tmp_path: Path) -> None:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'acd.sqlite3'}")
    await database.migrate()
    try:
        node_a = TokenService(database.config, AgentDirectory())
        await node_a.configure_admin(SECRET)
        assert await node_a.authenticate(SECRET) is not None
        # node b, starting at the same moment on the empty store, stored it again (new salt)
        await database.config.add_token(CONFIGURED_NAME, "admin", SECRET, chosen=True)
        principal = await node_a.authenticate(SECRET)
        assert principal is not None
        assert principal.role == "admin"
        # an operator gave node b another token: the old one is revoked everywhere
        await database.config.add_token(CONFIGURED_NAME, "admin", SECRET + "-new", chosen=True)
        assert await node_a.authenticate(SECRET) is None
        assert await node_a.authenticate("not-it") is None
    finally:
        await database.close()
