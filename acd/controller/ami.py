"""The AMI connection: panoramisk at the edge, typed facts and responses inward.

One event callback translates every AMI event into a fact and hands it to `on_fact` (which
only enqueues). panoramisk runs callbacks inside `data_received`, where an exception drops the
connection, so the callback catches everything. panoramisk reconnects by itself; `on_login`
fires after every successful (re)login so the controller can resynchronise.

panoramisk leaves the future of a "forgettable" action pending forever when the connection
drops before its answer; the link fails those futures itself at the disconnect (AmiError
"AMI connection lost"), so nothing waits for a reply that cannot come.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from panoramisk import Manager

from acd.config import AmiSettings
from acd.config.dialstrings import breaks_lines
from acd.controller.facts import Fact, translate

log = logging.getLogger(__name__)

ACTION_TIMEOUT = 5.0

#: panoramisk re-sends actions that were unanswered at a disconnect once Asterisk is back.
#: A Redirect or Originate replayed minutes later would hit the wrong caller: the controller
#: resynchronises instead, so every action it sends is "forgettable".
_FORGETTABLE = (
    "ping",
    "login",
    "redirect",
    "setvar",
    "getvar",
    "originate",
    "hangup",
    "corechannels",
    "coreshowchannels",
    "devicestatelist",
    "status",
    "filter",
)


class AmiError(Exception):
    """An action failed or got no answer. `message` is Asterisk's `Message:` text.
    `unsent`: the link was down, so Asterisk never saw the action (otherwise it may have
    carried it out: no answer is not a refusal)."""

    def __init__(self, action: str, message: str, *, unsent: bool = False) -> None:
        super().__init__(f"{action}: {message}")
        self.action = action
        self.message = message
        self.unsent = unsent


class AmiUnsafeAction(AmiError):
    """An action with CR, LF or NUL in a header name or value: it would end the header or the
    action early and put the rest on the connection as another action. Never sent (`unsent`),
    so a caller handles it as any action that could not be sent."""


def check_action(action: Mapping[str, str | Sequence[str]]) -> None:
    """Raise AmiUnsafeAction if any header name or value (each element of a repeated header
    such as Originate's `Variable`) holds CR, LF or NUL; the last line of defence behind the
    validation of agent contacts, queue targets and channel input."""
    name = str(action.get("Action"))
    for key, value in action.items():
        values = [value] if isinstance(value, str) else list(value)
        for text in (str(key), *map(str, values)):
            if breaks_lines(text):  # one rule for both writers (acd.config.dialstrings)
                raise AmiUnsafeAction(
                    name, f"header {key!r} holds CR, LF or NUL: {text!r}; not sent", unsent=True
                )


@dataclass(frozen=True, slots=True)
class AmiResponse:
    success: bool
    message: str
    headers: Mapping[str, str]


RawMessage = dict[str, str | list[str]]
"""An AMI message as read: a header repeated in the message (Status's `Variable:`) is a list."""


def _headers(message: Any) -> dict[str, str]:
    return {str(k): v if isinstance(v, str) else ",".join(map(str, v)) for k, v in message.items()}


def _raw(message: Any) -> RawMessage:
    return {str(k): v if isinstance(v, str) else [str(x) for x in v] for k, v in message.items()}


class AmiLink:
    def __init__(
        self,
        settings: AmiSettings,
        on_fact: Callable[[Fact], None],
        on_login: Callable[[], None],
        on_disconnect: Callable[[], None],
        gate: Callable[[], bool] | None = None,
    ) -> None:
        """`gate`: asked before every action is written; False refuses it unsent (a cluster
        node that is not, or no longer, the lease's holder must not act: acd/cluster/)."""
        self._on_fact = on_fact
        self._gate = gate
        self._on_login = on_login
        self._on_disconnect = on_disconnect
        self.logged_in = False
        #: AMI events read so far (a health figure: the event filter keeps it small).
        self._manager = Manager(
            loop=asyncio.get_running_loop(),
            host=settings.host,
            port=settings.port,
            username=settings.username,
            secret=settings.resolved_secret(),
            # channels, dial, hangup, device state (manager.conf's `read = call`).
            events="call",
            ping_delay=10,
            reconnect_timeout=1,
            forgetable_actions=_FORGETTABLE,
            on_login=self._logged_in,
            on_disconnect=self._disconnected,
            log=log,
        )
        self._manager.register_event("*", self._on_event)
        self._connect_task: asyncio.Future[Any] | None = None
        self._closed = False
        #: Futures of actions sent and not answered yet, with the action's name.
        self._in_flight: dict[asyncio.Future[Any], str] = {}

    def connect(self) -> None:
        """Start connecting; panoramisk retries every second until Asterisk answers."""
        self._connect_task = self._manager.connect()

    def close(self) -> None:
        self._closed = True
        self.logged_in = False
        # panoramisk schedules a reconnect (call_later(self.connect)) on every connection
        # loss; a closed link must not come back, so the target is disarmed first.
        self._manager.connect = lambda *a, **k: None
        self._manager.close()
        if self._connect_task is not None and not self._connect_task.done():
            self._connect_task.cancel()

    # --- callbacks (run inside panoramisk; must never raise) --------------------------------

    def _on_event(self, _manager: Any, message: Any) -> None:
        try:
            fact = translate(message)
            if fact is not None:
                self._on_fact(fact)
        except Exception:
            log.exception("AMI event handling failed; event ignored")

    def _logged_in(self, _manager: Any) -> None:
        if self._closed:
            return
        self.logged_in = True
        log.info("AMI logged in to %s", self._manager.config["host"])
        try:
            self._on_login()
        except Exception:
            log.exception("on_login failed")

    def _disconnected(self, _manager: Any, _exc: Any) -> None:
        self.logged_in = False
        log.warning("AMI connection lost; reconnecting")
        self._fail_in_flight()
        try:
            self._on_disconnect()
        except Exception:
            log.exception("on_disconnect failed")

    def _fail_in_flight(self) -> None:
        in_flight, self._in_flight = self._in_flight, {}
        for future, name in in_flight.items():
            if not future.done():
                future.set_exception(AmiError(name, "AMI connection lost"))

    # --- actions ------------------------------------------------------------------------------

    def _send(self, action: Mapping[str, str | Sequence[str]], as_list: bool | None) -> Any:
        check_action(action)  # before anything is written, whatever the link's state
        if self._gate is not None and not self._gate():
            raise AmiError(str(action.get("Action")), "not the cluster's leader", unsent=True)
        if not self.logged_in or self._manager.protocol is None:
            raise AmiError(str(action.get("Action")), "AMI not connected", unsent=True)
        message = dict(action)
        # panoramisk reads `Async` of any action whose reply ends in "successfully queued"
        # (PlayDTMF, Originate, ...) and drops the connection with a KeyError if it is absent.
        message.setdefault("Async", "false")
        future = self._manager.send_action(message, as_list=as_list)
        if isinstance(future, asyncio.Future):
            self._in_flight[future] = str(action.get("Action"))
            future.add_done_callback(self._answered)
        return future

    def _answered(self, future: asyncio.Future[Any]) -> None:
        self._in_flight.pop(future, None)

    async def request(
        self, action: Mapping[str, str | Sequence[str]], within: float = ACTION_TIMEOUT
    ) -> AmiResponse:
        """Send one action; its (first) response. Raises AmiError on no answer in time."""
        name = str(action.get("Action"))
        future = self._send(action, as_list=None)
        try:
            async with asyncio.timeout(within):  # unlike wait_for, never drops a cancel
                result = await future
        except TimeoutError:
            raise AmiError(name, f"no response in {within} s") from None
        first = result[0] if isinstance(result, list) else result
        response = _headers(first)
        return AmiResponse(
            success=bool(first.success),
            message=response.get("Message", ""),
            headers=response,
        )

    async def request_events(
        self, action: Mapping[str, str | Sequence[str]], within: float = ACTION_TIMEOUT
    ) -> list[dict[str, str]]:
        """An action answered by an event list (CoreShowChannels, DeviceStateList): its
        events, without the leading response and the trailing *Complete event; a header
        repeated within one event is joined with commas."""
        return [_headers(m) for m in await self.request_listing(action, within)]

    async def request_listing(
        self, action: Mapping[str, str | Sequence[str]], within: float = ACTION_TIMEOUT
    ) -> list[RawMessage]:
        """Like `request_events`, but a header repeated within one event stays a list (the
        `Variable:` lines of Status)."""
        name = str(action.get("Action"))
        future = self._send(action, as_list=True)
        try:
            async with asyncio.timeout(within):  # unlike wait_for, never drops a cancel
                result = await future
        except TimeoutError:
            raise AmiError(name, f"no complete event list in {within} s") from None
        messages = result if isinstance(result, list) else [result]
        if messages and not messages[0].success:
            raise AmiError(name, str(messages[0].get("Message", "failed")))
        return [
            _raw(m) for m in messages if "Event" in m and not str(m["Event"]).endswith("Complete")
        ]

    async def originate(
        self, action: Mapping[str, str | Sequence[str]], within: float
    ) -> AmiResponse:
        """An async Originate: resolves when the callee answered (success) or failed."""
        name = "Originate"
        future = self._send({**action, "Action": "Originate", "Async": "true"}, as_list=None)
        try:
            async with asyncio.timeout(within):  # unlike wait_for, never drops a cancel
                result = await future
        except TimeoutError:
            raise AmiError(name, f"no OriginateResponse in {within} s") from None
        messages = result if isinstance(result, list) else [result]
        last = _headers(messages[-1])
        ok = bool(messages[-1].success) and last.get("Response", "Success") == "Success"
        return AmiResponse(
            success=ok, message=last.get("Reason", last.get("Message", "")), headers=last
        )
