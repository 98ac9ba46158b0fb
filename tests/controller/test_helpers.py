from __future__ import annotations

import pytest

from acd.config import AmiSettings
from acd.controller.ami import AmiError, AmiLink
from acd.controller.calls import format_seconds
from acd.controller.effects import dialplan_target
from acd.controller.estimate import HandleTimes
from acd.controller.facts import Fact

from .transcripts import messages


def test_dialplan_targets() -> None:
    assert dialplan_target("voicemail,100,1") == ("voicemail", "100", "1")
    assert dialplan_target("ivr,_X.,start") == ("ivr", "_X.", "start")
    # All three parts, as the documents require since dial strings got their grammar (a
    # guessed priority or a stray space would be Redirect headers Asterisk reads otherwise).
    for bad in ("voicemail,,1", "voicemail, 100", "voicemail,100", "vm,1,1\r\nAction: Hangup"):
        with pytest.raises(ValueError, match="not a dialplan target"):
            dialplan_target(bad)
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

    link = AmiLink(AmiSettings(port=1, secret="s"), explode, lambda: None, lambda: None)
    for message in messages("answered"):
        link._on_event(None, message)  # must not raise, whatever happens behind it
    link._on_event(None, {"Event": object()})
    assert len(received) > 10
    with pytest.raises(AmiError, match="not connected"):
        await link.request({"Action": "Ping"})
    link.close()
