"""The FastAGI routes the dialplan calls. Each reads what it needs from the channel, calls one
use case of the service layer and answers with channel variables; none of them decides.

Routes are `async def` (the only kind panoramisk 1.4 can run on Python 3.11) and never raise to
the server: a failure sets ACD_RESULT=error (enter) or ACD_FEATURE_RESULT=<code> (feature codes).
A route runs only for a request the server accepted (the key, a live channel: agi/server.py);
what it reads from the channel is validated by the service (`EntryService.read`).

    enter            (arg 1: queue; args 2-6: lengths of ACD_PRIORITY, ACD_SKILLS,
                     ACD_CALLER_DATA, ACD_ENTERED_AT, ACD_CALL_ID) register the call:
                     ACD_CALL_ID, ACD_QUEUE, ACD_ENTERED_AT, ACD_ANNOUNCE_EVERY, ACD_RESULT
                     (empty); when routing decided at once, ACD_AGENT… (go and dial) or
                     ACD_RESULT (leave). ACD_ENTERED_AT and ACD_CALL_ID are set when the caller
                     waited without a controller: the call keeps that id and entry time.
    announce         ACD_POSITION, ACD_EXPECTED_WAIT (s), ACD_EXPECTED_MINUTES, ACD_EXIT_KEY
    callback         ACD_CALLBACK_ACCEPTED=1|0
    exit             (arg 1: the key pressed) ACD_EXIT_KEY (the queue's key now) and
                     ACD_EXIT_TO: the dialplan target when the caller left the queue (then
                     ACD_RESULT=exit_key too), empty when it keeps waiting
    agent/login, agent/logout, agent/pause (arg: reason code), agent/unpause,
    agent/transfer (arg: a queue's transfer_code; from the agent's leg of its call)
                     ACD_FEATURE_RESULT=ok|<error code>
    consult          (arg 1: the consultation's number) a warm transfer's consultation leg:
                     ACD_CONSULT_QUEUE, ACD_CONSULT_OF, ACD_CONSULT_CALLER (the caller's
                     channel), ACD_PRIORITY, ACD_SKILLS, ACD_TRANSFER_NOTE (empty
                     ACD_CONSULT_QUEUE: refused)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from acd.engine import EngineHalted
from acd.errors import DomainError
from acd.service.agents import AgentService
from acd.service.entry import EXIT_KEY, Entry, EntryService, EntryText
from acd.service.transfer import TransferService
from agi.channel import AgiChannel, AgiHangupError, AgiRequest, contact_of
from agi.server import Route

log = logging.getLogger(__name__)


class AgiRoutes:
    def __init__(
        self, entry: EntryService, agents: AgentService, transfers: TransferService | None = None
    ) -> None:
        self.entry = entry
        self.agents = agents
        self.transfers = transfers

    def routes(self) -> dict[str, Route]:
        return {
            "enter": self.enter,
            "announce": self.announce,
            "callback": self.callback,
            "exit": self.exit,
            "agent/login": self.agent_login,
            "agent/logout": self.agent_logout,
            "agent/pause": self.agent_pause,
            "agent/unpause": self.agent_unpause,
            "agent/transfer": self.agent_transfer,
            "consult": self.consult,
        }

    # --- enter ----------------------------------------------------------------------------------

    async def enter(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            entry = await self._read_entry(channel)
            await self.entry.enter(entry, channel.set_many)
        except AgiHangupError:
            log.info("caller %s hung up during enter", channel.name)
        except EngineHalted as exc:
            # This node lost the lease: no answer, so ACD_RESULT stays no_controller and the
            # dialplan retries, by then at the new leader's address (ACD_AGI).
            log.info("enter of %s left to the next controller: %s", channel.name, exc)
        except Exception:
            log.exception("enter failed on %s", channel.name)
            try:
                await channel.set("ACD_RESULT", "error")
            except Exception:
                log.info("could not set ACD_RESULT on %s", channel.name)

    async def _read_entry(self, channel: AgiChannel) -> Entry:
        # A dialplan older than the last two arguments never sets them: not read then.
        text = EntryText(
            channel.uniqueid,
            channel.name,
            queue=channel.arg(1) or channel.headers.get("agi_extension", ""),
            priority=await _entry_variable(channel, 2, "ACD_PRIORITY"),
            skills=await _entry_variable(channel, 3, "ACD_SKILLS"),
            caller_data=await _entry_variable(channel, 4, "ACD_CALLER_DATA"),
            entered_at=await _entry_variable(channel, 5, "ACD_ENTERED_AT", False),
            call_id=await _entry_variable(channel, 6, "ACD_CALL_ID", False),
        )
        return self.entry.read(text)

    # --- while waiting --------------------------------------------------------------------------

    async def announce(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            announcement = self.entry.announcement(channel.uniqueid)
            if announcement is None:
                # Not ours (any more): leave the wait loop rather than loop forever.
                await channel.set("ACD_RESULT", "lost")
                return
            await channel.set_many(
                {
                    "ACD_POSITION": str(announcement.position),
                    "ACD_EXPECTED_WAIT": str(announcement.expected_wait),
                    "ACD_EXPECTED_MINUTES": str(announcement.expected_minutes),
                    "ACD_EXIT_KEY": announcement.exit_key,
                }
            )
        except AgiHangupError:
            pass
        except Exception:
            log.exception("announce failed on %s", channel.name)

    async def callback(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            callback_to = await channel.get("ACD_CALLBACK_TO")
            number = "" if callback_to.strip() else await channel.get("CALLERID(num)")
            accepted = self.entry.request_callback(channel.uniqueid, callback_to, number)
            await channel.set("ACD_CALLBACK_ACCEPTED", "1" if accepted else "0")
        except AgiHangupError:
            pass
        except Exception:
            log.exception("callback failed on %s", channel.name)

    async def exit(self, request: AgiRequest) -> None:
        channel = AgiChannel(request)
        try:
            answer = await self.entry.exit_with_key(channel.uniqueid, channel.arg(1).strip())
            variables = {"ACD_EXIT_KEY": answer.key, "ACD_EXIT_TO": answer.target or ""}
            if answer.target is not None:
                variables["ACD_RESULT"] = EXIT_KEY
            await channel.set_many(variables)
        except AgiHangupError:
            pass
        except EngineHalted as exc:
            # No answer: the caller keeps waiting, for the next leader (it adopts the call).
            log.info("exit of %s left to the next controller: %s", channel.name, exc)
        except Exception:
            log.exception("exit failed on %s", channel.name)

    # --- agent feature codes --------------------------------------------------------------------

    async def _feature(
        self, request: AgiRequest, action: Callable[[str, AgiChannel], Awaitable[object]]
    ) -> None:
        channel = AgiChannel(request)
        try:
            seed = self.agents.directory.by_contact(contact_of(channel.name))
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
        await self._feature(request, lambda agent, _c: self.agents.login(agent))

    async def agent_logout(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, _c: self.agents.logout(agent))

    async def agent_pause(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, c: self.agents.pause(agent, c.arg(1).strip()))

    async def agent_unpause(self, request: AgiRequest) -> None:
        await self._feature(request, lambda agent, _c: self.agents.unpause(agent))

    async def agent_transfer(self, request: AgiRequest) -> None:
        """*8<code># during a call (acd-transfer-key, on the agent's own channel)."""
        transfers = self.transfers
        if transfers is None:
            await self._feature(request, _no_transfers)
            return
        await self._feature(
            request,
            lambda agent, c: transfers.transfer_by_code(agent, c.arg(1).strip(), c.uniqueid),
        )

    async def consult(self, request: AgiRequest) -> None:
        """acd-consult,<number>: a warm transfer's consultation channel asks what it carries
        (ACD_CONSULT_QUEUE empty: no such consultation, refused)."""
        channel = AgiChannel(request)
        try:
            variables = None
            if self.transfers is not None:
                variables = self.transfers.consult_entered(channel.arg(1).strip(), channel.uniqueid)
            await channel.set_many(variables or {"ACD_CONSULT_QUEUE": ""})
        except AgiHangupError:
            pass
        except Exception:
            log.exception("consult failed on %s", channel.name)


async def _no_transfers(_agent: str, _channel: AgiChannel) -> None:
    raise DomainError("this controller hands no calls on", code="no_transfers")


async def _entry_variable(
    channel: AgiChannel, arg: int, name: str, read_without_length: bool = True
) -> str:
    """An optional entry variable. The dialplan passes each one's length as an AGI argument
    (`${LEN(${ACD_SKILLS})}`): only non-empty ones cost a GET VARIABLE. Without that argument
    (an older dialplan) the variable is read if `read_without_length`."""
    length = channel.arg(arg).strip()
    if length == "0" or (not length and not read_without_length):
        return ""
    return await channel.get(name)
