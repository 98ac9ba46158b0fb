"""Use cases shared by the HTTP API and the agents' feature codes (FastAGI).

Each use case validates its input, consults the directory and the router, persists through the
configuration store where configuration changes, and submits one event to the engine; a
rejection becomes a domain error. Nothing here knows about HTTP: the API maps the errors.

Order of a configuration change: validate → check the router would accept it → persist → apply
to the router → update the directory. Persisting before applying means a crash in between
loses nothing: the next start restores the router from the store.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from acd.config import AgentSeed, ConfigError, parse_agent, parse_queue
from acd.directory import AgentDirectory
from acd.engine import Engine, EventFactory
from acd.errors import Conflict, DomainError, Invalid, NotFound
from acd.router.decisions import Decision, EventRejected
from acd.router.events import (
    AgentLoggedIn,
    AgentLoggedOut,
    AgentPaused,
    AgentRemoved,
    AgentUnpaused,
    AgentUpserted,
    QueueRemoved,
    QueueUpserted,
)
from acd.router.model import AgentState, AgentView, CallView, QueueConfig

_REJECTION_ERRORS: dict[str, type[DomainError]] = {
    "unknown_agent": NotFound,
    "unknown_call": NotFound,
    "unknown_queue": NotFound,
}

#: Bounds that keep stored numbers inside what every backend and JSON encoder handles.
MAX_PRIORITY = 1_000_000
MAX_SECONDS = 10_000_000.0  # ~115 days: longer than any sensible wait, wrap-up or window
MAX_NAME_LENGTH = 64
MAX_TEXT_LENGTH = 200
MAX_PAUSE_REASON_LENGTH = 100

ROLES = ("admin", "supervisor", "agent", "reader")


def raise_if_rejected(decisions: Sequence[Decision]) -> None:
    for decision in decisions:
        if isinstance(decision, EventRejected):
            error = _REJECTION_ERRORS.get(decision.code, Conflict)
            raise error(decision.message, code=decision.code)


def invalid(error: ConfigError) -> Invalid:
    return Invalid(error.message, field=error.field)


# --- what the use cases need from storage (acd.storage implements these) -------------------


class TokenRecord(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def agent_id(self) -> str | None: ...


class ConfigStoreLike(Protocol):
    async def list_queues(self) -> list[QueueConfig]: ...
    async def get_queue(self, name: str) -> QueueConfig | None: ...
    async def put_queue(self, queue: QueueConfig) -> None: ...
    async def delete_queue(self, name: str) -> Any: ...
    async def list_agents(self) -> list[AgentSeed]: ...
    async def get_agent(self, agent_id: str) -> AgentSeed | None: ...
    async def put_agent(self, agent: AgentSeed) -> None: ...
    async def delete_agent(self, agent_id: str) -> Any: ...
    async def add_token(
        self, name: str, role: str, secret: str, agent_id: str | None = None
    ) -> Any: ...
    async def find_token(self, secret: str) -> TokenRecord | None: ...
    async def list_tokens(self) -> Sequence[TokenRecord]: ...
    async def delete_token(self, name: str) -> bool: ...


# --- queues --------------------------------------------------------------------------------


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


# --- agents --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent as the API shows it: who it is (directory) and where it stands (router)."""

    seed: AgentSeed
    state: AgentState
    pause_reason: str | None
    idle_since: float | None
    reachable: bool
    call_id: str | None
    pending: str | None


def check_agent_bounds(agent: AgentSeed, where: str = "agent") -> None:
    if len(agent.id) > MAX_NAME_LENGTH:
        raise Invalid(f"must be at most {MAX_NAME_LENGTH} characters", field=f"{where}.id")
    for key in ("name", "contact"):
        if len(getattr(agent, key)) > MAX_TEXT_LENGTH:
            raise Invalid(f"must be at most {MAX_TEXT_LENGTH} characters", field=f"{where}.{key}")


class AgentService:
    """Agent CRUD and state changes (login, logout, pause, unpause)."""

    def __init__(
        self, engine: Engine, directory: AgentDirectory, store: ConfigStoreLike | None = None
    ) -> None:
        self.engine = engine
        self.directory = directory
        self.store = store

    # reads

    def record(self, agent_id: str) -> AgentRecord:
        seed = self.directory.get(agent_id)
        view = self.engine.router.agent(agent_id)
        if seed is None and view is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        if seed is None:
            seed = AgentSeed(agent_id, skills=view.skills if view else {})
        return _record(seed, view)

    def list(self) -> list[AgentRecord]:
        ids = {seed.id for seed in self.directory.all()}
        ids.update(view.id for view in self.engine.router.agents())
        return [self.record(agent_id) for agent_id in sorted(ids)]

    # configuration

    async def create(self, document: Any) -> AgentRecord:
        agent = self._parse(document)
        if self.directory.get(agent.id) is not None or self.engine.router.agent(agent.id):
            raise Conflict(f"agent {agent.id!r} already exists", code="agent_exists")
        return await self._save(agent)

    async def replace(self, agent_id: str, document: Any) -> AgentRecord:
        """Replace an agent's name, contact and skills; its state is kept."""
        self.record(agent_id)
        if isinstance(document, Mapping) and "id" not in document:
            document = {**document, "id": agent_id}
        agent = self._parse(document)
        if agent.id != agent_id:
            raise Invalid(
                "must match the agent in the path (agents cannot be renamed)", field="agent.id"
            )
        return await self._save(agent)

    async def delete(self, agent_id: str) -> None:
        """Refused (`agent_busy`) while the agent is ringing, on a call or in wrap-up."""
        self.record(agent_id)
        raise_if_rejected(await self.engine.submit(lambda now: AgentRemoved(now, agent_id)))
        if self.store is not None:
            await self.store.delete_agent(agent_id)
        self.directory.remove(agent_id)

    def _parse(self, document: Any) -> AgentSeed:
        try:
            agent = parse_agent(document, "agent")
        except ConfigError as exc:
            raise invalid(exc) from None
        check_agent_bounds(agent)
        if agent.contact:
            holder = self.directory.by_contact(agent.contact)
            if holder is not None and holder.id != agent.id:
                raise Conflict(
                    f"contact {agent.contact!r} belongs to agent {holder.id!r}",
                    code="contact_in_use",
                )
        return agent

    async def _save(self, agent: AgentSeed) -> AgentRecord:
        if self.store is not None:
            await self.store.put_agent(agent)
        raise_if_rejected(
            await self.engine.submit(lambda now: AgentUpserted(now, agent.id, agent.skills))
        )
        self.directory.put(agent)
        return self.record(agent.id)

    # state

    def _known(self, agent_id: str) -> None:
        if self.directory.get(agent_id) is None and self.engine.router.agent(agent_id) is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")

    async def _change(self, agent_id: str, factory: EventFactory) -> AgentView:
        """Submit one state event for a known agent; a rejection becomes a domain error."""
        self._known(agent_id)
        raise_if_rejected(await self.engine.submit(factory))
        view = self.engine.router.agent(agent_id)
        if view is None:
            raise NotFound(f"no agent {agent_id!r}", code="unknown_agent")
        return view

    async def login(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentLoggedIn(now, agent_id))

    async def logout(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentLoggedOut(now, agent_id))

    async def pause(self, agent_id: str, reason: str = "") -> AgentView:
        self._known(agent_id)
        if len(reason) > MAX_PAUSE_REASON_LENGTH:
            raise Invalid(f"must be at most {MAX_PAUSE_REASON_LENGTH} characters", field="reason")
        return await self._change(agent_id, lambda now: AgentPaused(now, agent_id, reason))

    async def unpause(self, agent_id: str) -> AgentView:
        return await self._change(agent_id, lambda now: AgentUnpaused(now, agent_id))


def _record(seed: AgentSeed, view: AgentView | None) -> AgentRecord:
    if view is None:
        return AgentRecord(seed, AgentState.LOGGED_OUT, None, None, True, None, None)
    return AgentRecord(
        seed,
        view.state,
        view.pause_reason,
        view.idle_since,
        view.reachable,
        view.call_id,
        view.pending,
    )


# --- tokens --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the token's name, its role, and for the agent role the agent it is."""

    name: str
    role: str
    agent_id: str | None = None


@dataclass(frozen=True, slots=True)
class IssuedToken:
    principal: Principal
    secret: str  # shown once, stored only as a hash


class TokenService:
    def __init__(self, store: ConfigStoreLike, directory: AgentDirectory) -> None:
        self.store = store
        self.directory = directory

    async def authenticate(self, secret: str) -> Principal | None:
        if not secret:
            return None
        found = await self.store.find_token(secret)
        if found is None:
            return None
        return Principal(found.name, found.role, found.agent_id)

    async def list(self) -> list[Principal]:
        tokens = await self.store.list_tokens()
        return sorted((Principal(t.name, t.role, t.agent_id) for t in tokens), key=_by_name)

    async def ensure_admin(self, secret: str, name: str = "ACD_API_TOKEN") -> None:
        """Make `secret` an admin token (the configured api_token); idempotent."""
        if secret and await self.store.find_token(secret) is None:
            await self.store.add_token(self._free_name(name, await self.list()), "admin", secret)

    async def issue(self, document: Any) -> IssuedToken:
        if not isinstance(document, Mapping):
            raise Invalid("expected an object with name, role and agent_id", field="token")
        unknown = set(document) - {"name", "role", "agent_id"}
        if unknown:
            raise Invalid("unknown key", field=f"token.{sorted(unknown)[0]}")
        name, role, agent_id = document.get("name"), document.get("role"), document.get("agent_id")
        if not isinstance(name, str) or not name or len(name) > MAX_NAME_LENGTH:
            raise Invalid(
                f"must be a string of 1..{MAX_NAME_LENGTH} characters", field="token.name"
            )
        if role not in ROLES:
            raise Invalid(f"must be one of {', '.join(ROLES)}", field="token.role")
        if role == "agent":
            if not isinstance(agent_id, str) or self.directory.get(agent_id) is None:
                raise Invalid(
                    "an agent token needs the id of a known agent", field="token.agent_id"
                )
        elif agent_id is not None:
            raise Invalid("only agent tokens name an agent", field="token.agent_id")
        if any(p.name == name for p in await self.list()):
            raise Conflict(f"a token named {name!r} exists", code="token_exists")
        secret = secrets.token_urlsafe(32)
        await self.store.add_token(name, role, secret, agent_id)
        return IssuedToken(Principal(name, role, agent_id), secret)

    async def revoke(self, name: str) -> None:
        if not await self.store.delete_token(name):
            raise NotFound(f"no token named {name!r}", code="unknown_token_name")

    @staticmethod
    def _free_name(name: str, existing: Sequence[Principal]) -> str:
        taken = {p.name for p in existing}
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}-{n}"
        return candidate


def _by_name(principal: Principal) -> str:
    return principal.name


# --- calls ---------------------------------------------------------------------------------


class CallerInfoSource(Protocol):
    """Caller data the controller learned at entry (ACD_CALLER_DATA, caller id)."""

    def caller_info(self, call_id: str) -> Mapping[str, Any] | None: ...


class FinishedCalls(Protocol):
    async def get_call(self, call_id: str) -> Mapping[str, Any] | None:
        """The stored record: the latest visit's fields plus every visit as `legs`."""
        ...


@dataclass(frozen=True, slots=True)
class LiveCall:
    view: CallView
    position: int | None
    caller: Mapping[str, Any] | None


class CallService:
    def __init__(
        self,
        engine: Engine,
        finished: FinishedCalls | None = None,
        caller_info: CallerInfoSource | None = None,
    ) -> None:
        self.engine = engine
        self.finished = finished
        self.caller_info = caller_info

    def live(self) -> list[LiveCall]:
        return [self._live(view) for view in self.engine.router.calls()]

    async def get(self, call_id: str) -> LiveCall | Mapping[str, Any]:
        """A live call, or the stored record of a finished one."""
        view = self.engine.router.call(call_id)
        if view is not None:
            return self._live(view)
        if self.finished is not None:
            record = await self.finished.get_call(call_id)
            if record is not None:
                return record
        raise NotFound(f"no call {call_id!r}", code="unknown_call")

    def _live(self, view: CallView) -> LiveCall:
        caller = self.caller_info.caller_info(view.id) if self.caller_info else None
        return LiveCall(view, self.engine.router.position(view.id), caller)


# --- health, statistics, reports -----------------------------------------------------------


class ControllerStatus(Protocol):
    @property
    def ami_connected(self) -> bool: ...
    @property
    def ready(self) -> bool: ...


class HealthService:
    """Ready means the controller's AMI link is up and the router's state is synced to it."""

    def __init__(self) -> None:
        self._controller: ControllerStatus | None = None

    def attach(self, controller: ControllerStatus | None) -> None:
        self._controller = controller

    def readiness(self) -> dict[str, bool]:
        controller = self._controller
        connected = bool(controller is not None and controller.ami_connected)
        synced = bool(controller is not None and controller.ready)
        return {
            "controller": controller is not None,
            "ami_connected": connected,
            "state_synced": synced,
        }


class QueueStatsSource(Protocol):
    def queue_stats(self) -> Sequence[Mapping[str, Any]]: ...


class QueueReportSource(Protocol):
    async def queue_report(
        self, start: float, end: float, interval: float
    ) -> Mapping[str, Any]: ...


MIN_INTERVAL = 60
MAX_INTERVALS = 10_000


class ReportService:
    def __init__(self, engine: Engine, stats: QueueStatsSource, reports: QueueReportSource) -> None:
        self.engine = engine
        self.stats = stats
        self.reports = reports

    def live(self) -> Sequence[Mapping[str, Any]]:
        return self.stats.queue_stats()

    async def queues(
        self, start: float | None, end: float | None, interval: int = 900
    ) -> Mapping[str, Any]:
        """Interval report; `end` defaults to now and `start` to 24 hours before `end`."""
        if not MIN_INTERVAL <= interval <= 86_400 * 31:
            raise Invalid(f"must be {MIN_INTERVAL}..{86_400 * 31} seconds", field="interval")
        end = self.engine.now() if end is None else end
        start = end - 86_400 if start is None else start
        if start >= end:
            raise Invalid("must be before to", field="from")
        if (end - start) / interval > MAX_INTERVALS:
            raise Invalid(f"the range holds more than {MAX_INTERVALS} intervals", field="interval")
        return await self.reports.queue_report(start, end, float(interval))
