"""What the dialplan passes, as read from a channel (acd.config.channel_input): ACD_SKILLS,
ACD_PRIORITY, ACD_ENTERED_AT, ACD_CALL_ID, ACD_CALLER_DATA, and channel names."""

from __future__ import annotations

import pytest

from acd.config import channel_input
from acd.config.channel_input import (
    MAX_CALLER_DATA_LENGTH,
    MAX_CHANNEL_SKILLS,
    ChannelInputError,
)
from agi.channel import contact_of


def test_skills_from_the_channel_variable() -> None:
    assert channel_input.skills("") == {}
    assert channel_input.skills("german:3, support:5,german:4") == {"german": 4, "support": 5}
    assert channel_input.skills("vip") == {"vip": 1}


@pytest.mark.parametrize(
    "text", ["german:x", ":3", "german:11", "german:0", "german:99999999999999999999"]
)
def test_bad_skills_are_a_clear_error(text: str) -> None:
    with pytest.raises(ChannelInputError, match=r"ACD_SKILLS: .*(german|'')"):
        channel_input.skills(text)


def test_skills_are_capped_in_number_and_name_length() -> None:
    channel_input.skills(",".join(f"s{i}" for i in range(MAX_CHANNEL_SKILLS)))
    with pytest.raises(ChannelInputError, match="ACD_SKILLS"):
        channel_input.skills(",".join(f"s{i}" for i in range(MAX_CHANNEL_SKILLS + 1)))
    with pytest.raises(ChannelInputError, match="ACD_SKILLS"):
        channel_input.skills("x" * 65)


@pytest.mark.parametrize("text", ["1000001", "-1000001", "999999999", "9" * 30, "1.5", "0x10"])
def test_a_priority_outside_the_api_s_bounds_is_refused(text: str) -> None:
    with pytest.raises(ChannelInputError, match="ACD_PRIORITY"):
        channel_input.priority(text)


def test_a_priority_within_the_bounds() -> None:
    assert channel_input.priority(" 1000000 ") == 1_000_000
    assert channel_input.priority("-3") == -3
    assert channel_input.priority("") is None


def test_agent_contact_from_its_channel_name() -> None:
    assert contact_of("PJSIP/1001-0000002a") == "PJSIP/1001"
    assert contact_of("Local/2001@acd-sim-agent-00000005;2") == "Local/2001@acd-sim-agent"


def test_entry_time_from_the_channel_variable() -> None:
    assert channel_input.epoch("1796159058.095") == 1796159058.095
    assert channel_input.epoch("1796159058") == 1796159058.0
    assert channel_input.epoch(" 17 ") == 17.0  # the range is the service's rule
    assert channel_input.epoch("") is None


@pytest.mark.parametrize("text", ["abc", "nan", "inf", "-inf", "1796159058,095", "1e999", "-5"])
def test_an_entry_time_that_is_no_epoch_is_an_error(text: str) -> None:
    with pytest.raises(ChannelInputError, match="ACD_ENTERED_AT"):
        channel_input.epoch(text)


@pytest.mark.parametrize("text", ["a|b", "a b", "x" * 129, "17961.42\x00x", "id|DROP", "é"])
def test_a_call_id_outside_the_uniqueid_alphabet_is_refused(text: str) -> None:
    with pytest.raises(ChannelInputError, match="ACD_CALL_ID"):
        channel_input.call_id(text)


def test_a_call_id_in_the_alphabet() -> None:
    assert channel_input.call_id("1796159058.42-cb1") == "1796159058.42-cb1"
    assert channel_input.call_id("caller-4;2") == "caller-4;2"


def test_caller_data_is_cut_and_control_characters_refused() -> None:
    assert channel_input.caller_data("x" * 5000) == "x" * MAX_CALLER_DATA_LENGTH
    assert channel_input.caller_data("CRM 4711: Müller") == "CRM 4711: Müller"
    with pytest.raises(ChannelInputError, match="ACD_CALLER_DATA"):
        channel_input.caller_data("a\nb")
