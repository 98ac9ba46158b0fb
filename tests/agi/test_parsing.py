"""The AGI edge's parsing of what the dialplan passes: ACD_SKILLS and channel names."""

from __future__ import annotations

import pytest

from agi.channel import contact_of
from agi.routes import SkillsError, parse_skills


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
