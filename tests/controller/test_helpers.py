from __future__ import annotations

import pytest

from acd.config import AmiSettings
from acd.controller.agi import SkillsError, contact_of, parse_skills
from acd.controller.ami import AmiError, AmiLink
from acd.controller.effects import dialplan_target, format_seconds
from acd.controller.estimate import HandleTimes
from acd.controller.facts import Fact

from .transcripts import messages


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


def test_dialplan_targets() -> None:
    assert dialplan_target("voicemail,100,1") == ("voicemail", "100", "1")
    assert dialplan_target("voicemail, 100") == ("voicemail", "100", "1")
    with pytest.raises(ValueError, match="not a dialplan target"):
        dialplan_target("voicemail,,1")
    assert format_seconds(15.0) == "15"
    assert format_seconds(2.5) == "2.5"


def test_expected_wait() -> None:
    times = HandleTimes()
    assert times.expected_wait("q", 0, 5, 1) == 0
    times.observe("q", 55.0)
    assert times.expected_wait("q", 3, 5, 2) == 90
    assert times.expected_wait("q", 1, 5, 0) == 60  # no agent: as if one


async def test_the_ami_callback_never_raises_and_only_enqueues_facts() -> None:
    received: list[Fact] = []

    def explode(fact: Fact) -> None:
        received.append(fact)
        raise RuntimeError("consumer bug")

    link = AmiLink(AmiSettings(port=1), explode, lambda: None, lambda: None)
    for message in messages("answered"):
        link._on_event(None, message)  # must not raise, whatever happens behind it
    link._on_event(None, {"Event": object()})
    assert len(received) > 10
    with pytest.raises(AmiError, match="not connected"):
        await link.request({"Action": "Ping"})
    link.close()
