"""Agent reachability from Asterisk device states.

An agent whose contact is a device (`PJSIP/1001`) is reachable when its device is registered
and not busy with a call the ACD did not give it: UNAVAILABLE/INVALID (softphone offline) and
INUSE/RINGING/BUSY/ONHOLD without an ACD offer are both "no offers, please". Agents on
`Local/...` contacts (simulated agents) are always reachable and never evaluated here.

While an ACD offer or call is on the agent its device is busy because of us; that stays
"engaged" until the device reports idle again after the call, so the device's trailing INUSE
after a hang-up never flips the agent to unreachable for a moment.

While the AMI link is down (`link_lost` until the next `reset`) every agent, simulated ones
included, is unreachable: the controller could not carry an offer out (a Redirect needs the
link), and an offer that fails for that reason would count as the agent's ring-no-answer.
Waiting calls keep their place and are offered once the resync after the reconnect is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from acd.controller.facts import DeviceState
from acd.service.directory import AgentDirectory

_OFFLINE = frozenset({DeviceState.UNAVAILABLE, DeviceState.INVALID})
_IN_USE = frozenset(
    {
        DeviceState.INUSE,
        DeviceState.BUSY,
        DeviceState.RINGING,
        DeviceState.RINGINUSE,
        DeviceState.ONHOLD,
    }
)


def is_device_contact(contact: str) -> bool:
    return bool(contact) and not contact.lower().startswith("local/")


class Reachability:
    def __init__(self, directory: AgentDirectory) -> None:
        self._directory = directory
        self._states: dict[str, DeviceState] = {}
        self._engaged: set[str] = set()
        self._on_acd_call: set[str] = set()
        #: Last value told to the router; the router starts every agent reachable.
        self._reported: dict[str, bool] = {}
        self._link_up = True

    def device_state(self, device: str) -> DeviceState | None:
        return self._states.get(device.lower())

    def _reachable(self, agent_id: str) -> bool | None:
        seed = self._directory.get(agent_id)
        if seed is None:
            return None
        if not self._link_up:
            return False
        if not is_device_contact(seed.contact):
            return True  # a simulated agent: only the link can make it unreachable
        state = self._states.get(seed.contact.lower())
        if state is None:
            return True  # nothing known yet: an offer will tell (CHANUNAVAIL → OfferFailed)
        if state in _OFFLINE:
            return False
        return not (state in _IN_USE and agent_id not in self._engaged)

    def _changes(self, agent_ids: Iterable[str], force: bool = False) -> list[tuple[str, bool]]:
        changes = []
        for agent_id in agent_ids:
            reachable = self._reachable(agent_id)
            if reachable is None:
                continue
            seed = self._directory.get(agent_id)
            forced = force and seed is not None and is_device_contact(seed.contact)
            if forced or self._reported.get(agent_id, True) != reachable:
                self._reported[agent_id] = reachable
                changes.append((agent_id, reachable))
        return changes

    def _agents_on(self, device: str) -> list[str]:
        seed = self._directory.by_contact(device)
        return [] if seed is None else [seed.id]

    def device_changed(self, device: str, state: DeviceState) -> list[tuple[str, bool]]:
        """A DeviceStateChange: the (agent, reachable) pairs the router must be told."""
        self._states[device.lower()] = state
        agents = self._agents_on(device)
        if state not in _IN_USE:
            for agent_id in agents:
                if agent_id not in self._on_acd_call:
                    self._engaged.discard(agent_id)
        return self._changes(agents)

    def link_lost(self) -> list[tuple[str, bool]]:
        """The AMI link is down: every agent is unreachable until the next `reset`."""
        self._link_up = False
        return self._changes([seed.id for seed in self._directory.all()])

    def reset(self, states: Mapping[str, DeviceState]) -> list[tuple[str, bool]]:
        """After a (re)connect: the full device list; every device agent is reported, and
        a simulated agent made unreachable by the lost link is reachable again."""
        self._link_up = True
        self._states = {device.lower(): state for device, state in states.items()}
        return self._changes([seed.id for seed in self._directory.all()], force=True)

    def acd_call_started(self, agent_id: str) -> None:
        """An ACD offer rings the agent: its device will be busy because of us."""
        self._on_acd_call.add(agent_id)
        self._engaged.add(agent_id)

    def acd_call_finished(self, agent_id: str) -> list[tuple[str, bool]]:
        self._on_acd_call.discard(agent_id)
        seed = self._directory.get(agent_id)
        state = None if seed is None else self._states.get(seed.contact.lower())
        if state not in _IN_USE:
            self._engaged.discard(agent_id)
        return self._changes([agent_id])

    def agent_changed(self, agent_id: str) -> list[tuple[str, bool]]:
        """The agent was created or its contact changed: evaluate it against known states."""
        return self._changes([agent_id])
