"""One rule for what nothing handed to Asterisk may contain (acd.config.dialstrings
LINE_BREAKING): the AMI writer and the AGI writer refuse exactly those characters."""

from __future__ import annotations

from typing import Any

import pytest

from acd.config.dialstrings import LINE_BREAKING
from acd.controller.ami import AmiUnsafeAction, check_action
from agi.channel import AgiChannel, AgiCommandError

CONTROL = [chr(c) for c in range(32)] + ["\x7f"]


class _Wire:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.sent: list[str] = []

    async def send_command(self, command: str) -> dict[str, Any]:
        self.sent.append(command)
        return {"result": ("1", "")}


def _ami_refuses(char: str) -> bool:
    try:
        check_action({"Action": "Setvar", "Value": f"a{char}b"})
    except AmiUnsafeAction:
        return True
    return False


async def _agi_refuses(char: str) -> bool:
    wire = _Wire()
    try:
        await AgiChannel(wire).set("ACD_X", f"a{char}b")
    except AgiCommandError:
        assert wire.sent == []
        return True
    return False


@pytest.mark.parametrize("char", CONTROL, ids=[f"{ord(c):#04x}" for c in CONTROL])
async def test_both_writers_refuse_exactly_the_one_set(char: str) -> None:
    assert _ami_refuses(char) is (char in LINE_BREAKING)
    assert await _agi_refuses(char) is (char in LINE_BREAKING)
    assert frozenset("\r\n\0") == LINE_BREAKING
