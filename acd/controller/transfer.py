"""The controller's side of a transfer (`acd.service.transfer`): whether the caller's channel
can be moved now, the note it carries, and a warm transfer's Asterisk actions.

Bridged means: the AMI link is up (a Redirect can be sent) and the tracker has the call
CONNECTED with a caller channel. The blind move itself is the effects' (`CallRequeued`):
they forget the agent's leg, set the new queue's variables and Redirect the caller.

A warm transfer is Asterisk's own attended transfer, started on the first agent's leg with
AMI `Atxfer` into `acd-consult,<number>` (the caller hears music; the consultation's Local
channel enters the target queue as a call of its own, and the first agent talks to the
specialist who answers it). Completing it is hanging the first agent's leg up (Asterisk then
joins the caller and the consultation: `AttendedTransfer`, read by the call flow);
cancelling it is hanging the consultation's leg up (Asterisk returns the agent to the
caller).
"""

from __future__ import annotations

from collections.abc import Mapping

from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import CallTracker, Consultation
from acd.controller.live_channels import LiveChannels
from acd.controller.phases import Phase

CONSULT_CONTEXT = "acd-consult"


class ControllerTransferLine:
    def __init__(self, tracker: CallTracker, ami: AmiLink, channels: LiveChannels) -> None:
        self.tracker = tracker
        self.ami = ami
        self.channels = channels

    def bridged(self, call_id: str) -> bool:
        call = self.tracker.get(call_id)
        return (
            self.ami.logged_in
            and call is not None
            and call.phase is Phase.CONNECTED
            and call.channel is not None
        )

    def noted(self, call_id: str, note: str) -> None:
        call = self.tracker.get(call_id)
        if call is not None:
            call.transfer_note = note

    def call_of_agent_leg(self, uniqueid: str) -> str | None:
        call = self.tracker.by_agent_leg(uniqueid)
        return None if call is None else call.call_id

    # --- warm transfers ---------------------------------------------------------------------

    def _agent_channel(self, call_id: str) -> str | None:
        call = self.tracker.get(call_id)
        if call is None or call.agent_uniqueid is None:
            return None
        return self.channels.name(call.agent_uniqueid)

    async def consult(self, call_id: str, number: str) -> str | None:
        """Start the consultation `number` on the call's agent leg; None, or why not."""
        channel = self._agent_channel(call_id)
        if channel is None:
            return "the agent's leg of the call is not known"
        return await self._action(
            {"Action": "Atxfer", "Channel": channel, "Exten": number, "Context": CONSULT_CONTEXT}
        )

    def consultation_entered(
        self, call_id: str, consult_id: str, queue: str, skills: Mapping[str, int]
    ) -> str | None:
        self.tracker.consultations[call_id] = Consultation(consult_id, queue, skills)
        call = self.tracker.get(call_id)
        return None if call is None else call.channel

    async def complete(self, call_id: str) -> str | None:
        """Hang the first agent's leg up: Asterisk joins the caller and the consultation."""
        channel = self._agent_channel(call_id)
        if channel is None:
            return "the agent's leg of the call is not known"
        return await self._action({"Action": "Hangup", "Channel": channel})

    async def cancel(self, consult_id: str) -> str | None:
        """Hang the consultation up: Asterisk returns the first agent to the caller."""
        consult = self.tracker.get(consult_id)
        if consult is None or consult.channel is None:
            return "the consultation has no channel"
        return await self._action({"Action": "Hangup", "Channel": consult.channel})

    async def _action(self, action: dict[str, str]) -> str | None:
        try:
            response = await self.ami.request(action)
        except AmiError as exc:
            return str(exc)
        return None if response.success else response.message or f"{action['Action']} failed"
