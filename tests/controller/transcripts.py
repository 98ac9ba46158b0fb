"""Replay recorded AMI transcripts (tests/fixtures/ami/*.txt, see record.py there) the way
panoramisk reads them off the socket."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from panoramisk.message import Message

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ami"
#: Every transcript's call: the ;2 half of the caller originated with ChannelId caller-1.
CALL_ID = "caller-1;2"


def messages(name: str) -> list[Any]:
    text = (FIXTURES / f"{name}.txt").read_bytes().decode()
    parsed = (Message.from_line(block.strip()) for block in text.split("\r\n\r\n"))
    return [message for message in parsed if message is not None]
