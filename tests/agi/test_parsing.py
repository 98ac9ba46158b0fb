"""The AGI edge's parsing of what the dialplan passes: ACD_SKILLS, ACD_ENTERED_AT and channel
names."""

from __future__ import annotations

import pytest

from agi.channel import contact_of
from agi.routes import SkillsError, parse_epoch, parse_skills


def test_skills_from_the_channel_variable() -> None:
    assert parse_skills("") == {}
    assert parse_skills("german:3, support:5,german:4") == {"german": 4, "support": 5}
    assert parse_skills("vip") == {"vip": 1}


@pytest.mark.parametrize("text", ["german:x", ":3", "german:11", "german:0"])
def test_bad_skills_are_a_clear_error(text: str) -> None:
    with pytest.raises(SkillsError, match=r"german|empty"):
        parse_skills(text)


def test_agent_contact_from_its_channel_name() -> None:
    assert contact_of("PJSIP/1001-0000002a") == "PJSIP/1001"
    assert contact_of("Local/2001@acd-sim-agent-00000005;2") == "Local/2001@acd-sim-agent"


def test_entry_time_from_the_channel_variable() -> None:
    assert parse_epoch("1796159058.095") == 1796159058.095
    assert parse_epoch("1796159058") == 1796159058.0
    assert parse_epoch(" 17 ") == 17.0  # float() strips; the range is the service's rule


@pytest.mark.parametrize("text", ["", "abc", "nan", "inf", "-inf", "1796159058,095", "1e999"])
def test_an_entry_time_that_is_no_finite_number_is_none(text: str) -> None:
    assert parse_epoch(text) is None
