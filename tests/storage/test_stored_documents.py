"""A stored queue that today's document rule refuses (saved under an older, looser rule) is
left in the store and skipped at load, with an error naming it; the other queues still load."""

from __future__ import annotations

import logging

import pytest
import sqlalchemy as sa

from acd.config import queue_to_dict
from acd.router.model import QueueConfig
from acd.storage import Database
from acd.storage.tables import queues


async def test_an_invalid_stored_queue_is_skipped_and_kept(
    database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    await database.config.put_queue(QueueConfig("support"))
    old = {**queue_to_dict(QueueConfig("support")), "name": "café"}
    async with database.engine.begin() as conn:
        await conn.execute(sa.insert(queues).values(name="café", document=old, updated_at=0.0))
    with caplog.at_level(logging.ERROR, logger="acd.storage.config_store"):
        loaded = await database.config.list_queues()
    assert [queue.name for queue in loaded] == ["support"]
    assert "café" in caplog.text
    async with database.engine.connect() as conn:
        assert await conn.scalar(sa.select(sa.func.count()).select_from(queues)) == 2
