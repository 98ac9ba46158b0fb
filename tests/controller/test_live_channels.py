"""The live-channel registry and check the FastAGI server asks (acd.controller.live_channels):
AMI facts in order, a resync's listing replacing all, the AMI fallback for a channel not seen
yet, and refusal when nothing shows the channel live."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from acd.controller.live_channels import LiveChannelCheck, LiveChannels
from acd.controller.snapshot import read_snapshot


@dataclass
class Response:
    success: bool
    headers: Mapping[str, str]


@dataclass
class FakeAmi:
    logged_in: bool = True
    channels: dict[str, str] = field(default_factory=dict)  # name → uniqueid
    asked: list[Mapping[str, str]] = field(default_factory=list)
    fail: bool = False

    async def request(self, action: Mapping[str, str], within: float = 0) -> Response:
        self.asked.append(action)
        if self.fail:
            raise TimeoutError("no answer")
        uniqueid = self.channels.get(action["Channel"])
        if uniqueid is None:
            return Response(False, {"Message": "No such channel"})
        return Response(True, {"Value": uniqueid})


def test_facts_keep_the_registry() -> None:
    channels = LiveChannels()
    channels.created("u1", "PJSIP/1001-01")
    assert channels.matches("u1", "PJSIP/1001-01")
    channels.renamed("u1", "PJSIP/1001-01<ZOMBIE>")
    assert not channels.matches("u1", "PJSIP/1001-01")
    channels.gone("u1")
    assert not channels.matches("u1", "PJSIP/1001-01<ZOMBIE>")


def test_the_registry_is_bounded() -> None:
    channels = LiveChannels(kept=2)
    for n in range(3):
        channels.created(f"u{n}", f"c{n}")
    assert len(channels) == 2
    assert not channels.matches("u0", "c0")


def test_a_resync_listing_replaces_the_registry() -> None:
    channels = LiveChannels()
    channels.created("stale", "PJSIP/x-1")
    snapshot = read_snapshot([{"Event": "Status", "Channel": "PJSIP/1001-02", "Uniqueid": "u2"}])
    channels.reset(snapshot.names)
    assert channels.matches("u2", "PJSIP/1001-02")
    assert not channels.matches("stale", "PJSIP/x-1")


async def test_a_channel_not_seen_yet_costs_one_getvar() -> None:
    ami = FakeAmi(channels={"PJSIP/1001-03": "u3"})
    check = LiveChannelCheck(LiveChannels(), ami)
    assert await check.is_live("u3", "PJSIP/1001-03")
    assert ami.asked == [{"Action": "Getvar", "Channel": "PJSIP/1001-03", "Variable": "UNIQUEID"}]
    assert not await check.is_live("u4", "PJSIP/1001-03")  # that name is another channel
    assert not await check.is_live("u5", "PJSIP/none-05")
    assert check.fallbacks == 3


async def test_without_ami_it_cannot_tell_and_without_an_answer_it_is_not_live() -> None:
    ami = FakeAmi(logged_in=False, channels={"PJSIP/1001-06": "u6"})
    check = LiveChannelCheck(LiveChannels(), ami)
    assert await check.is_live("u6", "PJSIP/1001-06") is None  # AMI down: cannot tell
    assert ami.asked == []
    ami.logged_in, ami.fail = True, True
    assert not await check.is_live("u6", "PJSIP/1001-06")


async def test_malformed_names_never_reach_ami() -> None:
    ami = FakeAmi()
    check = LiveChannelCheck(LiveChannels(), ami)
    for uniqueid, name in (("u7", "PJSIP/x\r\nAction: Originate"), ("u|7", "PJSIP/x"), ("", "")):
        assert await check.is_live(uniqueid, name) is False
    assert ami.asked == []


def test_the_flow_feeds_the_registry_from_translated_ami_events() -> None:
    from acd.controller.calls import CallTracker
    from acd.controller.estimate import HandleTimes
    from acd.controller.facts import USED_EVENTS, translate
    from acd.controller.flow import CallFlow
    from acd.controller.reachability import Reachability
    from acd.service.directory import AgentDirectory

    assert "Newchannel" in USED_EVENTS  # the AMI event filter lets it through
    flow = CallFlow(CallTracker(), Reachability(AgentDirectory()), HandleTimes())
    for event in (
        {"Event": "Newchannel", "Channel": "PJSIP/1001-08", "Uniqueid": "u8"},
        {"Event": "Newchannel", "Channel": "PJSIP/1001-09", "Uniqueid": "u9"},
        {"Event": "Rename", "Uniqueid": "u9", "Newname": "PJSIP/1001-09a"},
        {"Event": "Hangup", "Channel": "PJSIP/1001-08", "Uniqueid": "u8", "Cause": "16"},
    ):
        fact = translate(event)
        assert fact is not None
        flow.handle(fact)
    assert not flow.channels.matches("u8", "PJSIP/1001-08")
    assert flow.channels.matches("u9", "PJSIP/1001-09a")


def test_the_live_check_and_the_call_id_rules_share_one_uniqueid_alphabet() -> None:
    """A uniqueid the live check takes is a call id the entry takes, and the other way
    round, character by character (one alphabet: channel_input.UNIQUEID_CHARACTERS)."""
    from acd.config.channel_input import ChannelInputError, call_id
    from acd.controller.live_channels import well_formed

    for code in range(33, 127):
        uniqueid = f"1796159058{chr(code)}42"
        try:
            taken = call_id(uniqueid) == uniqueid
        except ChannelInputError:
            taken = False
        assert well_formed(uniqueid, "PJSIP/1001-0000000a") is taken, repr(chr(code))
