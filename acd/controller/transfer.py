"""The controller's side of a blind transfer (`acd.service.transfer`): whether the caller's
channel can be moved now, and the note it carries.

Bridged means: the AMI link is up (a Redirect can be sent) and the tracker has the call
CONNECTED with a caller channel. The move itself is the effects' (`CallRequeued`): they
forget the agent's leg, set the new queue's variables and Redirect the caller to the wait.
"""

from __future__ import annotations

from acd.controller.ami import AmiLink
from acd.controller.calls import CallTracker
from acd.controller.phases import Phase


class ControllerTransferLine:
    def __init__(self, tracker: CallTracker, ami: AmiLink) -> None:
        self.tracker = tracker
        self.ami = ami

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
