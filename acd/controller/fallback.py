"""Each queue's fallback, published in Asterisk for the time the controller is down.

A caller whose AGI gets no answer waits with music in the dialplan (acd-wait,down in
extensions_acd.conf) and tries again every few seconds. With the controller down, the
dialplan cannot ask it where a queue's callers go after `fallback_after` seconds, so the
controller tells Asterisk beforehand, as global variables (AMI `Setvar` without a `Channel`):

    ACD_FALLBACK_<queue>        the queue's `fallback` ("context,exten,priority"), or empty:
                                no fallback (none set, `fallback_after` 0, no such queue, or
                                not a dialplan target: `check_target`, logged)
    ACD_FALLBACK_AFTER_<queue>  `fallback_after` in seconds ("0" when there is no fallback)

They are published when a queue is created, changed or removed (`on_step`, an engine
listener) and, for every queue, after every AMI login (`resync`): Asterisk forgets globals
when it restarts, and changes made while the link was down never reached it. A queue removed
while the link was down is cleared at the next login too (the names published before are
remembered). Each value is read from the router when its action is sent, and Asterisk runs
the actions of one connection in order, so the last value sent is always the current one.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from typing import Any, Protocol

from acd.config.dialstrings import DialStringError, check_target
from acd.controller.ami import AmiError, AmiResponse
from acd.controller.calls import format_seconds
from acd.engine import Step
from acd.router.events import QueueRemoved, QueueUpserted
from acd.router.model import QueueConfig

log = logging.getLogger(__name__)

TARGET_PREFIX = "ACD_FALLBACK_"
AFTER_PREFIX = "ACD_FALLBACK_AFTER_"
#: Queue names that can be part of a dialplan variable name (the queue document's rule).
_NAME = re.compile(r"[A-Za-z0-9_-]+\Z")

Published = tuple[str, str]
"""(ACD_FALLBACK_<queue>, ACD_FALLBACK_AFTER_<queue>) as sent."""

NO_FALLBACK: Published = ("", "0")


class AmiActions(Protocol):
    """What this needs of `acd.controller.ami.AmiLink`."""

    logged_in: bool

    async def request(
        self, action: Mapping[str, str | Sequence[str]], within: float = ...
    ) -> AmiResponse: ...


class Spawner(Protocol):
    """Where background AMI exchanges run (`acd.controller.effects.TaskSet`)."""

    def spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None: ...


class QueueSource(Protocol):
    """The router's current queues (`acd.router.router.Router`)."""

    def queue(self, name: str) -> QueueConfig | None: ...

    def queues(self) -> list[QueueConfig]: ...


def published_values(queue: QueueConfig | None) -> Published:
    """What the dialplan should read for this queue (None: the queue does not exist)."""
    if queue is None or not queue.fallback or queue.fallback_after <= 0:
        return NO_FALLBACK
    target = queue.fallback.strip()
    try:
        # Checked again here, whatever let it in: the dialplan's Goto() takes it literally.
        check_target(target)
    except DialStringError as exc:
        log.warning("queue %s: fallback not published: %s", queue.name, exc)
        return NO_FALLBACK
    return target, format_seconds(queue.fallback_after)


class FallbackPublisher:
    """Engine listener + resync hook keeping ACD_FALLBACK_* globals equal to the queues."""

    def __init__(self, router: QueueSource, ami: AmiActions, tasks: Spawner) -> None:
        self.router = router
        self.ami = ami
        self.tasks = tasks
        #: What Asterisk holds, as far as this controller knows (sent in this AMI session,
        #: or in an earlier one: those names are cleared at the next login if gone).
        self._sent: dict[str, Published] = {}

    # --- engine listener -----------------------------------------------------------------------

    def on_step(self, step: Step) -> None:
        event = step.event
        if isinstance(event, QueueUpserted):
            name = event.queue.name
        elif isinstance(event, QueueRemoved):
            name = event.name
        else:
            return
        if not self.ami.logged_in:
            return  # the next login publishes every queue
        if self._sent.get(name) == published_values(self.router.queue(name)):
            return  # a change of another setting (or a rejected one): nothing to tell
        self.tasks.spawn(self._publish_changed(name), f"acd-fallback-{name}")

    # --- after every AMI login -----------------------------------------------------------------

    async def resync(self) -> int:
        """Publish every queue's fallback (and clear those of queues gone since); how many
        queues were published. Never raises: a failure is logged, the next login retries."""
        names = {queue.name for queue in self.router.queues()} | set(self._sent)
        # Asterisk may have restarted: nothing it holds is known any more.
        self._sent.clear()
        try:
            await self._publish(sorted(names))
        except AmiError as exc:
            log.warning("publishing the queues' fallbacks failed (%s); next login retries", exc)
            return 0
        return len(names)

    # --- sending -------------------------------------------------------------------------------

    async def _publish(self, names: Iterable[str]) -> None:
        """One Setvar per variable, all sent before any answer is awaited (pipelined)."""
        pending: list[tuple[str, Published, Coroutine[Any, Any, AmiResponse]]] = []
        for name in names:
            if not _NAME.match(name):
                log.warning("queue %r: name cannot be a dialplan variable; not published", name)
                continue
            values = published_values(self.router.queue(name))
            self._sent[name] = values
            target, after = values
            for variable, value in ((TARGET_PREFIX + name, target), (AFTER_PREFIX + name, after)):
                action = {"Action": "Setvar", "Variable": variable, "Value": value}
                pending.append((name, values, self.ami.request(action)))
        if not pending:
            return
        requests = (request for _, _, request in pending)
        results = await asyncio.gather(*requests, return_exceptions=True)
        failure: BaseException | None = None
        for (name, values, _), result in zip(pending, results, strict=True):
            if isinstance(result, AmiResponse) and result.success:
                continue
            if self._sent.get(name) == values:
                del self._sent[name]  # not known to be there: the next change or login resends
            if isinstance(result, AmiResponse):
                log.warning("Setvar for queue %s refused: %s", name, result.message)
            elif failure is None:
                failure = result
        if failure is not None:
            raise failure

    async def _publish_changed(self, name: str) -> None:
        try:
            await self._publish([name])
        except AmiError as exc:
            # The link went down meanwhile: the next login publishes every queue.
            log.info("fallback of queue %s not published (%s); next login does", name, exc)
