"""A caller's own number is never an agent's phone: the caller-ID callback path refuses a
number whose dial string is an agent's contact (the directory knows the contacts), while the
dialplan's ACD_CALLBACK_TO (its author is trusted) keeps only the dial rules.

Before, a caller claiming `CALLERID(num)=1001` was called back at PJSIP/1001: agent 1001's
phone rang with a callback nobody asked for."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

import pytest

from acd.config import AgentSeed, AmiSettings
from acd.config.dialstrings import DialRules
from acd.controller import Controller
from acd.engine import Engine
from acd.router.events import AgentUpserted, QueueUpserted
from acd.router.model import QueueConfig
from acd.router.router import Router
from acd.service import AgentDirectory
from acd.service.entry import Entry, EntryService

CALLER = "Local/support@acd-inbound-00000001;2"
#: An agent whose contact is a long number (a remote agent's E.164 endpoint): the caller
#: number rules alone allow it.
REMOTE_AGENT = "PJSIP/+4930999888"


@dataclass
class Rig:
    entry: EntryService
    directory: AgentDirectory
    engine: Engine

    async def waiting(self, uniqueid: str) -> None:
        async def send(variables: Mapping[str, str]) -> None:
            return None

        await self.entry.enter(Entry(uniqueid, CALLER, "support"), send)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    engine = Engine(Router())
    # Every number is a callback number here: only the directory check can refuse.
    rules = DialRules(callback_numbers=r"\+?[0-9]+")
    directory = AgentDirectory(rules)
    controller = Controller(AmiSettings(secret="s"), engine, directory)
    entry = EntryService(
        engine,
        controller.tracker,
        controller.flow,
        controller.handle_times,
        dial_rules=rules,
        contacts=directory.by_contact,
    )
    engine.start()
    await engine.submit(lambda now: QueueUpserted(now, QueueConfig("support", callback=True)))
    for agent_id, contact in (("1001", "PJSIP/1001"), ("2001", REMOTE_AGENT)):
        directory.put(AgentSeed(agent_id, contact=contact))
        await engine.submit(lambda now, a=agent_id: AgentUpserted(now, a))
    try:
        yield Rig(entry, directory, engine)
    finally:
        await engine.stop()


@pytest.mark.parametrize("number", ["1001", "+4930999888"])
async def test_a_caller_claiming_an_agent_s_number_is_not_called_back(
    rig: Rig, number: str
) -> None:
    await rig.waiting("c1")
    assert rig.entry.callback_dial("", number) is None
    assert rig.entry.request_callback("c1", "", number) is False
    call = rig.entry.tracker.get("c1")
    assert call is not None
    assert call.callback_to is None


async def test_a_caller_s_own_number_is_called_back(rig: Rig) -> None:
    await rig.waiting("c2")
    assert rig.entry.request_callback("c2", "", "+4930123456") is True
    call = rig.entry.tracker.get("c2")
    assert call is not None
    assert call.callback_to == "PJSIP/+4930123456"


async def test_an_agent_removed_is_no_longer_protected_and_the_dialplan_is_trusted(
    rig: Rig,
) -> None:
    rig.directory.remove("1001")
    assert rig.entry.callback_dial("", "1001") == "PJSIP/1001"
    # ACD_CALLBACK_TO is the dialplan author's: an agent's contact there is their choice.
    assert rig.entry.callback_dial(REMOTE_AGENT, "") == REMOTE_AGENT
