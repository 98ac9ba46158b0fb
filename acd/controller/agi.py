"""FastAGI routes the dialplan calls (`AGI(agi://${ACD_AGI}/<route>)`).

Each route reads what it needs from the channel, calls into the engine or the agent service,
and answers with channel variables; none of them decides routing. Routes are `async def` (the
only kind panoramisk 1.4 can run on Python 3.11) and never raise to panoramisk: a failure
sets ACD_RESULT=error (enter/announce) or ACD_FEATURE_RESULT=<code> (feature codes).

    enter            (arg: queue) register the call: ACD_CALL_ID, ACD_QUEUE, ACD_ENTERED_AT,
                     ACD_ANNOUNCE_EVERY; when routing decided at once, ACD_AGENT… (go and dial)
                     or ACD_RESULT (leave)
    announce         ACD_POSITION, ACD_EXPECTED_WAIT (s), ACD_EXPECTED_MINUTES
    callback         ACD_CALLBACK_ACCEPTED=1|0
    agent/login, agent/logout, agent/pause (arg: reason code), agent/unpause
                     ACD_FEATURE_RESULT=ok|<error code>
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from panoramisk.fast_agi import Request

from acd.controller.calls import CallTracker, Deliver, Leave, LiveCall, Phase
from acd.controller.effects import format_seconds
from acd.controller.estimate import HandleTimes
from acd.controller.flow import CallFlow
from acd.directory import AgentDirectory
from acd.engine import Engine
from acd.errors import DomainError
from acd.router.events import CallArrived
from acd.router.model import AgentState, frozen_skills, satisfies
from acd.service import AgentService

log = logging.getLogger(__name__)

#: Seconds Asterisk gets to send the AGI environment after connecting.
HEADER_TIMEOUT = 10.0

_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")
#: Values MSet takes as they are (no comma, quote, backslash, space or `$`).
_PLAIN = re.compile(r"[A-Za-z0-9_.@/:;+*#-]*\Z")


class AgiRequest(Protocol):
    headers: Mapping[str, str]

    async def send_command(self, command: str) -> dict[str, Any]: ...


class Recorder(Protocol):
    """What the controller tells the call records beyond the router's decisions."""

    def callback_requested(self, call_id: str) -> Any: ...

    def caller_data(self, call_id: str, text: str) -> Any: ...


class AgiHangupError(Exception):
    """The channel hung up while the route was talking to it."""


class AgiChannel:
    def __init__(self, request: AgiRequest) -> None:
        self.request = request
        self.headers = request.headers

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def name(self) -> str:
        return self.headers.get("agi_channel", "")

    def arg(self, n: int) -> str:
        return self.headers.get(f"agi_arg_{n}", "")

    async def _command(self, command: str) -> dict[str, Any]:
        result = await self.request.send_command(command)
        if result.get("error") in ("AGIResultHangup", "AGIDeadChannelError"):
            raise AgiHangupError(command)
        if "error" in result:
            log.warning("AGI %r on %s: %s", command, self.name, result)
        return result

    async def get(self, name: str) -> str:
        result = await self._command(f"GET VARIABLE {name}")
        value = result.get("result", ("0", ""))
        if isinstance(value, tuple) and value[0] == "1":
            return str(value[1])
        return ""

    async def set(self, name: str, value: str) -> None:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        await self._command(f'SET VARIABLE {name} "{quoted}"')

    async def set_many(self, variables: Mapping[str, str]) -> None:
        """Set several variables in one AGI command (`EXEC MSet`, one round trip) when every
        value is plain (no separator or quote MSet would have to escape); else one by one."""
        if len(variables) > 1 and all(_PLAIN.match(v) for v in variables.values()):
            pairs = ",".join(f"{name}={value}" for name, value in variables.items())
            result = await self._command(f'EXEC MSet "{pairs}"')
            code = result.get("result", ("",))
            if not (isinstance(code, tuple) and code[0] == "-2"):  # -2: no such application
                return
        for name, value in variables.items():
            await self.set(name, value)


def contact_of(channel: str) -> str:
    """`PJSIP/1001-0000002a` → `PJSIP/1001` (the device an agent dialled from)."""
    return _CHANNEL_SUFFIX.sub("", channel)


class SkillsError(ValueError):
    pass


def parse_skills(text: str) -> dict[str, int]:
    """ACD_SKILLS: `skill:minlevel,skill:minlevel` (a bare `skill` means level 1)."""
    skills: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, level = item.partition(":")
        name = name.strip()
        if not name:
            raise SkillsError(f"empty skill name in {text!r}")
        try:
            value = int(level) if level.strip() else 1
        except ValueError:
            raise SkillsError(f"level of {name!r} is not an integer in {text!r}") from None
        if not 1 <= value <= 10:
            raise SkillsError(f"level of {name!r} must be 1..10 in {text!r}")
        skills[name] = max(value, skills.get(name, 0))
    return skills


class AgiRoutes:
    def __init__(
        self,
        engine: Engine,
        flow: CallFlow,
        directory: AgentDirectory,
        agent_service: AgentService,
        handle_times: HandleTimes,
        recorder: Recorder | None = None,
    ) -> None:
        self.engine = engine
        self.flow = flow
        self.tracker: CallTracker = flow.tracker
        self.directory = directory
        self.agent_service = agent_service
        self.handle_times = handle_times
        self.recorder = recorder

    def routes(self) -> dict[str, Callable[[AgiRequest], Awaitable[None]]]:
        return {
            "enter": self.enter,
            "announce": self.announce,
            "callback": self.callback,
            "agent/login": self.agent_login,
            "agent/logout": self.agent_logout,
            "agent/pause": self.agent_pause,
            "agent/unpause": self.agent_unpause,
        }

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One FastAGI connection (the `asyncio.start_server` callback).

        Reads the AGI environment itself rather than through panoramisk's
        `Application.handler`, which loops forever on a connection closed before the blank
        line (a port scan would spin the controller); then runs the route with panoramisk's
        `Request` for the commands.
        """
        try:
            try:
                raw = await asyncio.wait_for(reader.readuntil(b"\n\n"), HEADER_TIMEOUT)
            except (
                asyncio.IncompleteReadError,
                asyncio.LimitOverrunError,
                TimeoutError,
                ConnectionError,
            ) as exc:
                log.warning("FastAGI connection without a complete environment: %r", exc)
                return
            headers = dict(
                line.split(": ", 1)
                for line in raw.decode("utf-8", "replace").splitlines()
                if ": " in line
            )
            script = headers.get("agi_network_script", "")
            route = self.routes().get(script)
            if route is None:
                log.warning("FastAGI request for unknown route %r", script)
                return
            try:
                await route(Request(None, headers, reader, writer))
            except Exception:
                log.exception("FastAGI route %r failed", script)
        finally:
            writer.close()

    def _record(self, method: str, *args: str) -> None:
        if self.recorder is None:
            return
        try:
            getattr(self.recorder, method)(*args)
        except Exception:
            log.exception("recorder.%s failed", method)

    # --- enter ----------------------------------------------------------------------------------

    async def enter(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        call: LiveCall | None = None
        try:
            call = await self._register(channel)
            if call is not None:
                await self._hand_over(channel, call)
        except AgiHangupError:
            log.info("caller %s hung up during enter", channel.name)
        except Exception:
            log.exception("enter failed on %s", channel.name)
            await self._fail(channel)
        finally:
            if call is not None and call.phase is Phase.ENTERING and call.call_id in self.tracker:
                # Still undecided when the AGI ends: from now on decisions go by Redirect.
                call.phase = Phase.WAITING

    async def _fail(self, channel: AgiChannel) -> None:
        try:
            await channel.set("ACD_RESULT", "error")
        except Exception:
            log.info("could not set ACD_RESULT on %s", channel.name)

    async def _register(self, channel: AgiChannel) -> LiveCall | None:
        queue = channel.arg(1) or channel.headers.get("agi_extension", "")
        priority_text = (await self._entry_variable(channel, 2, "ACD_PRIORITY")).strip()
        skills_text = await self._entry_variable(channel, 3, "ACD_SKILLS")
        caller_data = await self._entry_variable(channel, 4, "ACD_CALLER_DATA")
        priority: int | None = None
        if priority_text:
            try:
                priority = int(priority_text)
            except ValueError:
                log.warning(
                    "%s: ACD_PRIORITY %r is not an integer; queue default used",
                    channel.name,
                    priority_text,
                )
        try:
            extra = parse_skills(skills_text)
        except SkillsError as exc:
            log.warning("%s: ACD_SKILLS ignored: %s", channel.name, exc)
            extra = {}
        call_id = channel.uniqueid
        if not call_id or not channel.name:
            raise ValueError("AGI request without agi_uniqueid/agi_channel")
        serial = 1
        while call_id in self.tracker or self.engine.router.call(call_id) is not None:
            serial += 1  # the same channel entering again after leaving a queue
            call_id = f"{channel.uniqueid}-{serial}"
        if self.flow.hung_up(channel.uniqueid):
            return None
        entered_at = self.engine.now()
        call = LiveCall(
            call_id=call_id,
            queue=queue,
            entry=queue,
            channel=channel.name,
            uniqueid=channel.uniqueid,
            phase=Phase.ENTERING,
            entered_at=entered_at,
        )
        # No await between tracking the call and submitting it: a Hangup read after this
        # point finds the call and posts CallAbandoned behind CallArrived.
        self.tracker.add(call)
        arrived = self.engine.submit(
            lambda now: CallArrived(now, call_id, queue, priority, frozen_skills(extra))
        )
        if caller_data:
            self._record("caller_data", call_id, caller_data)
        await arrived
        return call

    async def _entry_variable(self, channel: AgiChannel, arg: int, name: str) -> str:
        """An optional entry variable. The dialplan passes each one's length as an AGI
        argument (`${LEN(${ACD_SKILLS})}`): only non-empty ones cost a GET VARIABLE. Without
        that argument (an older dialplan) the variable is always read."""
        length = channel.arg(arg).strip()
        if length == "0":
            return ""
        return await channel.get(name)

    def _entered_variables(self, call: LiveCall) -> dict[str, str]:
        """What the dialplan and a restarted controller read from the caller's channel."""
        config = self.engine.router.queue(call.queue)
        announce_every = config.announce_every if config is not None else 30.0
        return {
            "ACD_RESULT": "",
            "ACD_AGENT": "",
            "ACD_CALL_ID": call.call_id,
            "ACD_QUEUE": call.queue,
            "ACD_ENTERED_AT": f"{call.entered_at:.3f}",
            # 0 means "never": WaitExten needs a number, an hour is never enough.
            "ACD_ANNOUNCE_EVERY": format_seconds(announce_every or 3600),
        }

    async def _hand_over(self, channel: AgiChannel, call: LiveCall) -> None:
        """Set the call's variables and tell the dialplan about decisions taken while the AGI
        still holds the channel, in as few AGI commands as possible (usually one)."""
        variables = self._entered_variables(call)
        while call.phase is Phase.ENTERING and call.call_id in self.tracker:
            directive, call.directive = call.directive, None
            if directive is None:
                if not variables:
                    call.phase = Phase.WAITING  # no await since the check: nothing slipped by
                    return
                await channel.set_many(variables)
                variables = {}
            elif isinstance(directive, Deliver):
                variables["ACD_AGENT_CONTACT"] = directive.contact
                variables["ACD_RING_TIMEOUT"] = format_seconds(directive.ring_timeout)
                variables["ACD_AGENT"] = directive.agent_id
                await channel.set_many(variables)
                variables = {}
                if call.directive is None and call.agent_id == directive.agent_id:
                    call.phase = Phase.OFFERED
                    return
            elif isinstance(directive, Leave):
                variables["ACD_AGENT"] = ""
                variables["ACD_RESULT"] = directive.reason
                variables["ACD_DESTINATION"] = directive.destination or ""
                await channel.set_many(variables)
                variables = {}
                if call.directive is None:
                    self.tracker.remove(call.call_id)
                    return

    # --- while waiting --------------------------------------------------------------------------

    async def announce(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            call = self.tracker.by_caller_leg(channel.uniqueid)
            if call is None:
                # Not ours (any more): leave the wait loop rather than loop forever.
                await channel.set("ACD_RESULT", "lost")
                return
            router = self.engine.router
            position = router.position(call.call_id) or 0
            config = router.queue(call.queue)
            wrap_up = config.wrap_up if config is not None else 0.0
            view = router.call(call.call_id)
            requirements = view.requirements if view is not None else {}
            serving = sum(
                1
                for agent in router.agents()
                if agent.state not in (AgentState.LOGGED_OUT, AgentState.PAUSED)
                and satisfies(agent.skills, requirements)
            )
            wait = self.handle_times.expected_wait(call.queue, position, wrap_up, serving)
            await channel.set("ACD_POSITION", str(position))
            await channel.set("ACD_EXPECTED_WAIT", str(wait))
            await channel.set("ACD_EXPECTED_MINUTES", str(math.ceil(wait / 60)))
        except AgiHangupError:
            pass
        except Exception:
            log.exception("announce failed on %s", channel.name)

    async def callback(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            accepted = await self._accept_callback(channel)
            await channel.set("ACD_CALLBACK_ACCEPTED", "1" if accepted else "0")
        except AgiHangupError:
            pass
        except Exception:
            log.exception("callback failed on %s", channel.name)

    async def _accept_callback(self, channel: AgiChannel) -> bool:
        dial = (await channel.get("ACD_CALLBACK_TO")).strip()
        if not dial:
            number = (await channel.get("CALLERID(num)")).strip()
            dial = f"PJSIP/{number}" if number else ""
        call = self.tracker.by_caller_leg(channel.uniqueid)
        if call is None or call.phase is not Phase.WAITING or not dial:
            return False
        config = self.engine.router.queue(call.queue)
        if config is None or not config.callback:
            return False
        call.phase = Phase.CALLBACK
        call.callback_to = dial
        self._record("callback_requested", call.call_id)
        log.info("call %s will be called back at %s", call.call_id, dial)
        return True

    # --- agent feature codes --------------------------------------------------------------------

    async def _feature(
        self, request: AgiRequest, action: Callable[[str, AgiChannel], Awaitable[Any]]
    ) -> None:
        channel = AgiChannel(request)
        try:
            seed = self.directory.by_contact(contact_of(channel.name))
            if seed is None:
                result = "unknown_agent"
            else:
                try:
                    await action(seed.id, channel)
                    result = "ok"
                except DomainError as exc:
                    result = exc.code
            await channel.set("ACD_FEATURE_RESULT", result)
        except AgiHangupError:
            pass
        except Exception:
            log.exception("feature code failed on %s", channel.name)

    async def agent_login(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, _c: self.agent_service.login(agent))

    async def agent_logout(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, _c: self.agent_service.logout(agent))

    async def agent_pause(self, request: AgiRequest) -> None:
        await self._feature(
            request, lambda agent, c: self.agent_service.pause(agent, c.arg(1).strip())
        )

    async def agent_unpause(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, _c: self.agent_service.unpause(agent))
