"""A supervisor's listen / whisper / barge on an agent's call, and its audit log.

`request(principal, agent_id, body)`: the body (`MonitorRequest`: mode, the supervisor's
contact under the [dial] rules; in the body because only agent tokens name an agent, and
supervisors and admins may sit at any phone) → the agent exists (else 404 unknown_agent) →
never the monitored agent's own phone (409 own_phone) → the
controller is connected (else asterisk_unavailable) → the agent's leg of its connected call
(else agent_not_on_call) → the audit row, written before the supervisor's phone rings (who:
the token's name and role, when, agent, call, mode, contact, result `dialing`) → the dial
runs on in the background and sets the row's result (`acd.controller.monitor`: answered,
unanswered, not_sent, no_response). The request does not wait for the supervisor to answer.

Roles (supervisor and admin) are the API's to check (api/auth.py).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from acd.config.documents import MonitorRequest
from acd.controller.monitor import AgentLeg
from acd.errors import Conflict, NotFound, NotOnCall, Unavailable
from acd.router.router import Router
from acd.service.common import validated
from acd.service.directory import AgentDirectory
from acd.service.tokens import Principal

log = logging.getLogger(__name__)

#: Rows one read of the audit log returns at most.
MAX_LOG_ROWS = 1000
#: What the audit row says until the dial is over.
DIALING = "dialing"
#: A dial that raised: nothing was sent (the contact or the leg failed the last checks).
REFUSED = "refused"


class MonitorDial(Protocol):
    """The controller's side (`acd.controller.monitor.MonitorDialer`)."""

    @property
    def ready(self) -> bool: ...

    def agent_leg(self, agent_id: str) -> AgentLeg | None: ...

    async def dial(self, contact: str, mode: str, leg: AgentLeg) -> str: ...


class MonitorLog(Protocol):
    """The audit log at rest (`acd.storage.monitor_log.MonitorLogStore`)."""

    async def add(self, row: Mapping[str, Any]) -> None: ...

    async def set_result(self, entry_id: str, result: str) -> None: ...

    async def recent(self, limit: int) -> list[dict[str, Any]]: ...


@dataclass(frozen=True, slots=True)
class MonitorEntry:
    id: str
    at: float
    token: str
    role: str
    agent_id: str
    call_id: str
    mode: str
    contact: str
    result: str

    def row(self) -> dict[str, Any]:
        return asdict(self)


class MonitorService:
    def __init__(
        self,
        router: Router,
        directory: AgentDirectory,
        log_store: MonitorLog,
        clock: Callable[[], float],
    ) -> None:
        self.router = router
        self.directory = directory
        self.log_store = log_store
        self.clock = clock
        self.dialer: MonitorDial | None = None
        self._dials: set[asyncio.Task[None]] = set()

    def attach(self, dialer: MonitorDial) -> None:
        """The controller, once it runs (`acd.compose.start_controller`)."""
        self.dialer = dialer

    async def request(self, principal: Principal, agent_id: str, body: Any) -> MonitorEntry:
        wanted = validated(MonitorRequest, body, "", self.directory.rules)
        seed = self.directory.get(agent_id)
        if seed is None or self.router.agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        contact = wanted.contact
        if contact.lower() == seed.contact.lower():
            raise Conflict("the contact is the monitored agent's own phone", code="own_phone")
        dialer = self.dialer
        if dialer is None or not dialer.ready:
            raise Unavailable("no AMI link to Asterisk: retry later")
        leg = dialer.agent_leg(agent_id)
        if leg is None:
            raise NotOnCall(f"agent {agent_id!r} is not on a connected call")
        entry = MonitorEntry(
            id=uuid.uuid4().hex,
            at=self.clock(),
            token=principal.name,
            role=principal.role,
            agent_id=agent_id,
            call_id=leg.call_id,
            mode=wanted.mode,
            contact=contact,
            result=DIALING,
        )
        await self.log_store.add(entry.row())
        log.info(
            "%s (%s) %s on agent %s, call %s, from %s",
            entry.token,
            entry.role,
            entry.mode,
            agent_id,
            entry.call_id,
            contact,
        )
        task = asyncio.create_task(self._dial(dialer, entry, leg), name=f"monitor-{entry.id}")
        self._dials.add(task)
        task.add_done_callback(self._dials.discard)
        return entry

    async def recent(self, limit: int) -> Sequence[MonitorEntry]:
        return [MonitorEntry(**row) for row in await self.log_store.recent(limit)]

    async def settled(self) -> None:
        """Until every dial started so far is over and its result written (tests)."""
        while self._dials:
            await asyncio.gather(*self._dials, return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._dials):
            task.cancel()
        await asyncio.gather(*self._dials, return_exceptions=True)

    async def _dial(self, dialer: MonitorDial, entry: MonitorEntry, leg: AgentLeg) -> None:
        try:
            result = await dialer.dial(entry.contact, entry.mode, leg)
        except ValueError as exc:  # a last check refused it: nothing was sent
            log.warning("monitor %s not dialled: %s", entry.id, exc)
            result = REFUSED
        try:
            await self.log_store.set_result(entry.id, result)
        except Exception:
            log.exception("monitor %s: result %s not written to the audit log", entry.id, result)
