"""Server-sent events: call and agent state changes, fanned out to every subscriber.

An agent message is either a state change (`state`, `pause_reason`, `idle_since`,
`state_since`: when the agent entered that state, `at` unless a restore kept the stored
moment, and `at`) or,
when only its phone's reachability changed, `{"agent_id", "reachable", "at"}` with no `state`.

`EventHub` is an engine listener. It turns each step into small JSON messages and offers them
to every subscriber's bounded buffer without waiting: a subscriber whose buffer is full is
dropped (its stream ends; the client reconnects), so a slow client never delays routing. A
write the client does not take within `WRITE_TIMEOUT_SECONDS` ends the stream too (a client
that stops reading would otherwise hold its handler in that write for good).

Streams are capped per token and in all (`[http] max_event_streams_per_token`,
`max_event_streams`): one more is refused before it starts (429 / 503). A client that goes
away frees its slot within `POLL_SECONDS`, without waiting for the next write to fail; a
slot counts until its handler has returned (a dropped subscriber whose handler is still in
a write holds it). A
stream whose token is revoked (or whose agent is deleted) ends within `RECHECK_SECONDS`.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from acd.engine import Step
from acd.errors import CallerLimit, CapacityLimit
from acd.router.decisions import (
    AgentStateChanged,
    CallEscalated,
    CallExited,
    CallOverflowed,
    CallRequeued,
    EventRejected,
    OfferCall,
)
from acd.router.events import (
    AgentReachabilityChanged,
    AgentRemoved,
    CallAbandoned,
    CallArrived,
    CallEnded,
    OfferAnswered,
    OfferFailed,
)
from api.principal import PRINCIPAL, STILL_VALID

log = logging.getLogger(__name__)

BUFFER_SIZE = 1000
KEEPALIVE_SECONDS = 15.0
POLL_SECONDS = 1.0
RECHECK_SECONDS = 10.0
WRITE_TIMEOUT_SECONDS = 10.0
MAX_STREAMS = 100
MAX_STREAMS_PER_TOKEN = 10


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    type: str  # "agent" or "call"
    data: dict[str, Any]

    def encode(self) -> bytes:
        body = json.dumps(self.data, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.type}\ndata: {body}\n\n".encode()


def _call_event_messages(step: Step) -> list[tuple[str, dict[str, Any]]]:
    """What the triggering event itself says about a call (the decisions say the rest)."""
    event = step.event
    if isinstance(event, CallArrived):
        return [
            (
                "call",
                {
                    "call_id": event.call_id,
                    "queue": event.queue,
                    "state": "waiting",
                    "at": event.now,
                },
            )
        ]
    if isinstance(event, OfferAnswered):
        return [
            (
                "call",
                {
                    "call_id": event.call_id,
                    "agent_id": event.agent_id,
                    "state": "connected",
                    "at": event.now,
                },
            )
        ]
    if isinstance(event, OfferFailed):
        return [
            (
                "call",
                {
                    "call_id": event.call_id,
                    "agent_id": event.agent_id,
                    "state": "waiting",
                    "reason": event.reason,
                    "at": event.now,
                },
            )
        ]
    if isinstance(event, CallAbandoned):
        return [
            (
                "call",
                {
                    "call_id": event.call_id,
                    "state": "abandoned",
                    "reason": event.reason,
                    "at": event.now,
                },
            )
        ]
    if isinstance(event, CallEnded):
        return [("call", {"call_id": event.call_id, "state": "ended", "at": event.now})]
    if isinstance(event, AgentReachabilityChanged):
        # The router decides nothing visible on it (its state and idle_since stay): the
        # event is the news. `EventHub` leaves out what it has said already.
        return [
            (
                "agent",
                {"agent_id": event.agent_id, "reachable": event.reachable, "at": event.now},
            )
        ]
    return []


def step_messages(step: Step) -> list[tuple[str, dict[str, Any]]]:
    if any(isinstance(d, EventRejected) for d in step.decisions):
        return []
    now = step.event.now
    messages = _call_event_messages(step)
    for decision in step.decisions:
        if isinstance(decision, AgentStateChanged):
            messages.append(
                (
                    "agent",
                    {
                        "agent_id": decision.agent_id,
                        "state": decision.state.value,
                        "pause_reason": decision.pause_reason,
                        "idle_since": decision.idle_since,
                        "state_since": (
                            decision.at if decision.state_since is None else decision.state_since
                        ),
                        "at": decision.at,
                    },
                )
            )
        elif isinstance(decision, OfferCall):
            messages.append(
                (
                    "call",
                    {
                        "call_id": decision.call_id,
                        "queue": decision.queue,
                        "agent_id": decision.agent_id,
                        "state": "offered",
                        "at": now,
                    },
                )
            )
        elif isinstance(decision, CallEscalated):
            messages.append(
                (
                    "call",
                    {
                        "call_id": decision.call_id,
                        "queue": decision.queue,
                        "state": "escalated",
                        "step": decision.step,
                        "at": decision.at,
                    },
                )
            )
        elif isinstance(decision, CallOverflowed):
            messages.append(
                (
                    "call",
                    {
                        "call_id": decision.call_id,
                        "queue": decision.to_queue,
                        "from_queue": decision.from_queue,
                        "state": "overflowed",
                        "at": decision.at,
                    },
                )
            )
        elif isinstance(decision, CallRequeued):
            messages.append(
                (
                    "call",
                    {
                        "call_id": decision.call_id,
                        "queue": decision.to_queue,
                        "from_queue": decision.from_queue,
                        "from_agent": decision.agent_id,
                        "keep_place": decision.keep_place,
                        "state": "transferred",
                        "at": decision.at,
                    },
                )
            )
        elif isinstance(decision, CallExited):
            messages.append(
                (
                    "call",
                    {
                        "call_id": decision.call_id,
                        "queue": decision.queue,
                        "state": "exited",
                        "reason": decision.reason,
                        "destination": decision.destination,
                        "at": decision.at,
                    },
                )
            )
    return messages


class Subscription:
    def __init__(self, size: int, owner: str | None = None) -> None:
        self.buffer: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=size)
        self.dropped = False
        self.owner = owner  # the token's name

    def offer(self, message: Message) -> bool:
        try:
            self.buffer.put_nowait(message)
        except asyncio.QueueFull:
            self.close()
            self.dropped = True
            return False
        return True

    def close(self) -> None:
        """End the stream: the reader gets None next (old messages are discarded)."""
        while not self.buffer.empty():
            self.buffer.get_nowait()
        self.buffer.put_nowait(None)


class EventHub:
    """Engine listener → subscribers. Runs on the engine task; never blocks it."""

    def __init__(
        self,
        buffer_size: int = BUFFER_SIZE,
        *,
        max_streams: int = MAX_STREAMS,
        max_per_owner: int = MAX_STREAMS_PER_TOKEN,
    ) -> None:
        self._buffer_size = buffer_size
        self._max_streams = max_streams
        self._max_per_owner = max_per_owner
        self._subscribers: set[Subscription] = set()
        self._ids = itertools.count(1)
        #: The reachability last told per agent: the controller tells the router every
        #: device agent again after an AMI reconnect, which is no news to a page.
        self._reachable: dict[str, bool] = {}

    def on_step(self, step: Step) -> None:
        if isinstance(step.event, AgentRemoved):
            self._reachable.pop(step.event.agent_id, None)  # a new agent of that id: news
        for kind, data in step_messages(step):
            if "reachable" in data and not self._reachability_news(data):
                continue
            message = Message(next(self._ids), kind, data)
            for subscription in list(self._subscribers):
                # A dropped one keeps its slot until its handler unsubscribes.
                if not subscription.dropped and not subscription.offer(message):
                    log.warning("dropped a slow event-stream subscriber")

    def _reachability_news(self, data: dict[str, Any]) -> bool:
        agent_id, reachable = data["agent_id"], data["reachable"]
        if self._reachable.get(agent_id) == reachable:
            return False
        self._reachable[agent_id] = reachable
        return True

    def subscribe(self, owner: str | None = None) -> Subscription:
        """A new subscription, or CallerLimit / CapacityLimit when `owner` (a token's name)
        or the hub already holds as many as it may."""
        if owner is not None:
            held = sum(1 for s in self._subscribers if s.owner == owner)
            if held >= self._max_per_owner:
                raise CallerLimit(
                    f"this token already holds {held} event streams, the most one token may "
                    "([http] max_event_streams_per_token); close one first",
                    code="too_many_event_streams",
                )
        if len(self._subscribers) >= self._max_streams:
            raise CapacityLimit(
                f"the server already serves {len(self._subscribers)} event streams, its limit "
                "([http] max_event_streams); retry later",
                code="event_streams_exhausted",
            )
        subscription = Subscription(self._buffer_size, owner)
        self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """The stream's handler is done: its slot is free."""
        self._subscribers.discard(subscription)

    def close(self) -> None:
        """End every stream (server shutdown)."""
        for subscription in self._subscribers:
            subscription.close()
        self._subscribers.clear()

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)


async def stream(request: web.Request, hub: EventHub) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
        }
    )
    principal = request.get(PRINCIPAL)
    recheck = request.get(STILL_VALID)
    subscription = hub.subscribe(None if principal is None else principal.name)
    loop = asyncio.get_running_loop()
    try:
        await response.prepare(request)
        await _write(request, response, b": connected\n\n")
        written = checked = loop.time()
        while True:
            if recheck is not None and loop.time() - checked >= RECHECK_SECONDS:
                if not await recheck(request):
                    break
                checked = loop.time()
            try:
                async with asyncio.timeout(POLL_SECONDS):  # never drops a cancel
                    message = await subscription.buffer.get()
            except TimeoutError:
                # aiohttp does not cancel a handler whose client left: look.
                if _gone(request):
                    break
                if loop.time() - written >= KEEPALIVE_SECONDS:
                    await _write(request, response, b": keepalive\n\n")
                    written = loop.time()
                continue
            if message is None:
                break
            await _write(request, response, message.encode())
            written = loop.time()
    except (ConnectionResetError, ConnectionError):
        pass  # the client went away (or stopped reading: _write closed it)
    finally:
        hub.unsubscribe(subscription)
    return response


async def _write(request: web.Request, response: web.StreamResponse, data: bytes) -> None:
    """Write, or close the connection if the client does not take it in time."""
    try:
        async with asyncio.timeout(WRITE_TIMEOUT_SECONDS):
            await response.write(data)
    except TimeoutError:
        log.warning("an event-stream client stopped reading: closed its stream")
        transport = request.transport
        if transport is not None:
            transport.abort()  # what it did not read is discarded
        raise ConnectionResetError("event-stream write timed out") from None


def _gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()
