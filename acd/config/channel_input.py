"""What the ACD reads from a caller's channel, bounded and validated like an API body.

The entry variables (ACD_PRIORITY, ACD_SKILLS, ACD_CALLER_DATA, ACD_ENTERED_AT, ACD_CALL_ID)
and the queue name arrive as text from the dialplan. Each is checked with the documents' own
types (acd.config.documents: the API's priority bounds, skill names and levels, queue names),
one by one: a bad value raises ChannelInputError naming it, and the entry service ignores that
one value with a warning (the caller still enters; `acd.service.entry`). Whether an entry time
is plausible depends on the clock: that rule is the entry service's.

ACD_SKILLS is `skill:minlevel,skill:minlevel` (a bare `skill` means level 1).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Annotated

from pydantic import Field, TypeAdapter, ValidationError

from acd.config.dialstrings import shown
from acd.config.documents import MAX_PRIORITY, Document, QueueName, Skills

#: Most skills a channel may ask for (an API queue has no more in practice; the router
#: matches every agent against each).
MAX_CHANNEL_SKILLS = 32
#: Caller data kept with the record, in characters: a CRM key or a short note, not a file.
MAX_CALLER_DATA_LENGTH = 1000
#: Longest call id kept from the channel (the stored records' call_id column holds 150;
#: the controller may append `-<n>` and `-cb<n>`).
MAX_CALL_ID_LENGTH = 128
#: Longest text read as a number (a priority, an epoch with milliseconds).
MAX_NUMBER_TEXT = 24

#: A call id becomes AMI headers, queue_log fields and the record's key: Asterisk's uniqueid
#: alphabet only (`1796159058.42`, `<id>-2`, `<id>-cb1`; `<channel id>;2` for the dialplan
#: half of a Local channel originated with a ChannelId).
UNIQUEID_CHARACTERS = "[A-Za-z0-9_.;-]"  # the one alphabet (live_channels uses it too)
_CALL_ID = re.compile(rf"{UNIQUEID_CHARACTERS}{{1,{MAX_CALL_ID_LENGTH}}}")

_Priority = Annotated[int, Field(ge=-MAX_PRIORITY, le=MAX_PRIORITY)]
_PRIORITY: TypeAdapter[int] = TypeAdapter(_Priority, config=Document.model_config)
_SKILLS: TypeAdapter[dict[str, int]] = TypeAdapter(
    Annotated[Skills, Field(max_length=MAX_CHANNEL_SKILLS)], config=Document.model_config
)
_QUEUE: TypeAdapter[str] = TypeAdapter(QueueName, config=Document.model_config)


class ChannelInputError(ValueError):
    """A value read from a channel is outside its rules; `variable` names it."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


def queue_name(text: str) -> str:
    try:
        return _QUEUE.validate_python(text)
    except ValidationError:
        raise ChannelInputError("queue", f"{shown(text)} is not a queue name") from None


def priority(text: str) -> int | None:
    """ACD_PRIORITY: an integer within the API's bounds; None when not set."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_TEXT or not re.fullmatch(r"[+-]?[0-9]+", text):
        raise ChannelInputError("ACD_PRIORITY", f"{shown(text)} is not an integer")
    try:
        return _PRIORITY.validate_python(int(text))
    except ValidationError as exc:
        message = exc.errors(include_url=False)[0]["msg"]
        raise ChannelInputError("ACD_PRIORITY", f"{text}: {message}") from None


def skills(text: str) -> Mapping[str, int]:
    """ACD_SKILLS → skill name → minimum level (the highest of repeated names)."""
    parsed: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, level = item.partition(":")
        name, level = name.strip(), level.strip()
        if not re.fullmatch(r"[0-9]{1,3}", level or "1"):
            raise ChannelInputError(
                "ACD_SKILLS", f"level of {shown(name)} is not an integer in {shown(text)}"
            )
        parsed[name] = max(int(level or "1"), parsed.get(name, 0))
    try:
        return _SKILLS.validate_python(parsed)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        loc = error["loc"]
        where = f" ({shown(str(loc[0]))})" if loc else ""
        raise ChannelInputError("ACD_SKILLS", f"{error['msg']}{where} in {shown(text)}") from None


def caller_data(text: str) -> str:
    """ACD_CALLER_DATA: printable text, cut to its first MAX_CALLER_DATA_LENGTH characters
    (the caller keeps what fits rather than losing it all; the service warns)."""
    text = text[:MAX_CALLER_DATA_LENGTH]
    if not text.isprintable():
        raise ChannelInputError("ACD_CALLER_DATA", "control characters in the text")
    return text


def epoch(text: str) -> float | None:
    """ACD_ENTERED_AT: epoch seconds as the dialplan writes them (`1796159058.095`); None when
    not set. Whether it is a plausible entry time is the entry service's rule (the clock)."""
    text = text.strip()
    if not text:
        return None
    if len(text) > MAX_NUMBER_TEXT or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise ChannelInputError("ACD_ENTERED_AT", f"{shown(text)} is not epoch seconds")
    value = float(text)
    if not math.isfinite(value):
        raise ChannelInputError("ACD_ENTERED_AT", f"{shown(text)} is not a finite number")
    return value


def call_id(text: str) -> str | None:
    """ACD_CALL_ID: letters, digits, `_ . -`, at most MAX_CALL_ID_LENGTH; None when not set."""
    text = text.strip()
    if not text:
        return None
    if _CALL_ID.fullmatch(text) is None:
        raise ChannelInputError(
            "ACD_CALL_ID",
            f"{shown(text)} is not a call id (letters, digits, _ . ; - only, at most "
            f"{MAX_CALL_ID_LENGTH})",
        )
    return text
