"""Queue configuration use cases: create, replace, delete (the router holds the live copy)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from acd.config import ConfigError, parse_queue
from acd.engine import Engine
from acd.errors import Conflict, Invalid, NotFound
from acd.router.events import (
    QueueRemoved,
    QueueUpserted,
)
from acd.router.model import QueueConfig
from acd.service.common import (
    MAX_NAME_LENGTH,
    MAX_PRIORITY,
    MAX_SECONDS,
    MAX_TEXT_LENGTH,
    ConfigStoreLike,
    invalid,
    raise_if_rejected,
)


def _check_seconds(value: float | None, field: str) -> None:
    if value is not None and (not math.isfinite(value) or value > MAX_SECONDS):
        raise Invalid(f"must be at most {MAX_SECONDS:.0f} seconds", field=field)


def check_queue_bounds(queue: QueueConfig, where: str = "queue") -> None:
    """parse_queue checks types and signs; this keeps values storable and JSON-encodable."""
    if len(queue.name) > MAX_NAME_LENGTH:
        raise Invalid(f"must be at most {MAX_NAME_LENGTH} characters", field=f"{where}.name")
    if abs(queue.priority) > MAX_PRIORITY:
        raise Invalid(f"must be within ±{MAX_PRIORITY}", field=f"{where}.priority")
    for key in (
        "sl_threshold",
        "wrap_up",
        "ring_timeout",
        "max_wait",
        "rona_delay",
        "announce_every",
        "short_abandon",
        "sl_window",
    ):
        _check_seconds(getattr(queue, key), f"{where}.{key}")
    for i, step in enumerate(queue.escalation):
        _check_seconds(step.after, f"{where}.escalation[{i}].after")
    for text_field in ("overflow", "primary_skill"):
        text = getattr(queue, text_field)
        if text is not None and len(text) > MAX_TEXT_LENGTH:
            raise Invalid(
                f"must be at most {MAX_TEXT_LENGTH} characters", field=f"{where}.{text_field}"
            )


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
            raise Invalid(
                "must match the queue in the path (queues cannot be renamed)", field="queue.name"
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
        try:
            queue = parse_queue(document, "queue")
        except ConfigError as exc:
            raise invalid(exc) from None
        check_queue_bounds(queue)
        return queue

    async def _save(self, queue: QueueConfig) -> QueueConfig:
        await self.store.put_queue(queue)
        raise_if_rejected(await self.engine.submit(lambda now: QueueUpserted(now, queue)))
        return queue
