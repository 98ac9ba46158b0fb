"""Queue configuration use cases: create, replace, delete (the router holds the live copy)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from acd.config import QueueInput
from acd.config.documents import transfer_code_holder
from acd.engine import Engine
from acd.errors import Conflict, NotFound
from acd.router.events import (
    QueueRemoved,
    QueueUpserted,
)
from acd.router.model import QueueConfig
from acd.service.common import ConfigStoreLike, raise_if_rejected, validated


class QueueService:
    """Queue CRUD. The router holds the live configuration; the store keeps it across restarts."""

    def __init__(self, engine: Engine, store: ConfigStoreLike) -> None:
        self.engine = engine
        self.store = store

    def list(self) -> list[QueueConfig]:
        return self.engine.router.queues()

    def get(self, name: str) -> QueueConfig:
        queue = self.engine.router.queue(name)
        if queue is None:
            raise NotFound(f"no queue {name!r}", code="unknown_queue")
        return queue

    async def create(self, document: Any) -> QueueConfig:
        queue = self._parse(document)
        if self.engine.router.queue(queue.name) is not None:
            raise Conflict(f"queue {queue.name!r} already exists", code="queue_exists")
        return await self._save(queue)

    async def replace(self, name: str, document: Any) -> QueueConfig:
        """Replace a queue's whole configuration; omitted keys take their defaults."""
        self.get(name)
        if isinstance(document, Mapping) and "name" not in document:
            document = {**document, "name": name}
        queue = self._parse(document)
        if queue.name != name:
            # A document for another queue conflicts with this one (no rule of the document's
            # own, which the schema states, is broken): 409, as for any state it does not fit.
            raise Conflict(
                "must match the queue in the path (queues cannot be renamed)",
                code="rename_refused",
            )
        return await self._save(queue)

    async def delete(self, name: str, *, force: bool = False) -> None:
        """Refused (`queue_busy`) while calls are in the queue, unless forced: then waiting and
        ringing calls leave the ACD (reason `queue_removed`, back to the dialplan) and
        connected calls finish under the old configuration."""
        self.get(name)
        live = [call for call in self.engine.router.calls() if call.queue == name]
        if live and not force:
            raise Conflict(
                f"queue {name!r} has {len(live)} live call(s); retry with force=true to "
                "send waiting calls back to the dialplan",
                code="queue_busy",
            )
        await self.store.delete_queue(name)
        raise_if_rejected(await self.engine.submit(lambda now: QueueRemoved(now, name)))

    def _parse(self, document: Any) -> QueueConfig:
        return validated(QueueInput, document, "queue").to_config()

    async def _save(self, queue: QueueConfig) -> QueueConfig:
        holder = transfer_code_holder(queue, self.engine.router.queues())
        if holder is not None:
            raise Conflict(
                f"transfer code {queue.transfer_code!r} is queue {holder!r}'s",
                code="transfer_code_in_use",
            )
        await self.store.put_queue(queue)
        raise_if_rejected(await self.engine.submit(lambda now: QueueUpserted(now, queue)))
        return queue
