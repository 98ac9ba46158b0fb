"""Reading request bodies and query parameters strictly: bad input is a 400/422, never a 500."""

from __future__ import annotations

import asyncio
import json
import math
import re
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiohttp import web

from acd.errors import Invalid, TooSlow
from api.errors import BadRequestError

#: Seconds a client may take to send a request body (`acd.serve.http_runner` sets it from
#: `[http] header_timeout`, which bounds the head the same way).
BODY_TIMEOUT = web.AppKey("body_timeout", float)
DEFAULT_BODY_TIMEOUT = 10.0


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


#: Integers beyond what SQLite stores are refused while parsing, before any float() overflows.
_MAX_INT_DIGITS = 18


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise ValueError(f"integer {text[:20]}… is out of range")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:20]}… is out of range")
    return value


async def read_json(request: web.Request, *, optional: bool = False) -> Any:
    """The body as JSON. An empty body is None when `optional`, else a 400.

    The content type must be JSON when a body is sent (400 `unsupported_content_type`);
    syntax errors, NaN/Infinity, numbers too large and nesting too deep are 400 `bad_json`.
    A body not complete within the body timeout is 408 `request_timeout` (aiohttp bounds only
    the head: during a handler its keep-alive timer does not run).
    """
    seconds = request.app.get(BODY_TIMEOUT, DEFAULT_BODY_TIMEOUT)
    try:
        async with asyncio.timeout(seconds):
            raw = await request.read()
    except TimeoutError:
        raise TooSlow(
            f"the request body did not arrive within {seconds:g} s ([http] header_timeout)"
        ) from None
    except ConnectionResetError:
        # The client went away mid-body: its mistake, not the server's (no 500, no traceback).
        raise BadRequestError(
            "the connection closed before the body was complete", code="incomplete_body"
        ) from None
    if not raw.strip():
        if optional:
            return None
        raise BadRequestError("a JSON body is required", code="missing_body")
    content_type = request.content_type
    if content_type != "application/json" and not content_type.endswith("+json"):
        raise BadRequestError(
            f"expected Content-Type application/json, got {content_type!r}",
            code="unsupported_content_type",
        )
    try:
        text = raw.decode("utf-8")
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            parse_int=_bounded_int,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        message = str(exc) if not isinstance(exc, RecursionError) else "nested too deeply"
        raise BadRequestError(
            f"the body is not valid JSON: {message[:200]}", code="bad_json"
        ) from None
    if value is None and optional:
        # Only no body at all means "none"; a `null` is a body, and not an object.
        raise Invalid("the body is null: send an object, or no body", field="body")
    return value


#: An instant in a query: epoch seconds (at most 10 digits, any float's decimals), or ISO 8601:
#: a date, optionally with a time and an offset (no offset: UTC), years 1970..2999. The OpenAPI
#: document states this pattern and the server checks it before parsing, so they cannot differ;
#: hence the month lengths and leap years (a 30 February would be allowed, then refused).
_YEAR = r"(?:19[7-9][0-9]|2[0-9]{3})"
_LEAP_YEAR = r"(?:19(?:7[26]|8[048]|9[26])|2[0-9](?:0[48]|[2468][048]|[13579][26])|2[048]00)"
_DATE = (
    rf"(?:{_YEAR}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1[0-9]|2[0-8])"
    r"|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)"
    rf"|{_LEAP_YEAR}-02-29)"
)
_TIME = (
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9](?:\.[0-9]{1,9})?)?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
INSTANT_PATTERN = rf"^(?:[0-9]{{1,10}}(?:\.[0-9]{{1,17}})?|{_DATE}(?:{_TIME})?)$"
_INSTANT = re.compile(INSTANT_PATTERN)
#: A whole number in a query: ASCII digits only ("+5", " 5", "5.0" are refused).
WHOLE_PATTERN = r"^[0-9]{1,9}$"


def parse_instant(value: str, field: str) -> float:
    """Epoch seconds or ISO 8601 (a naive time is taken as UTC) → epoch seconds."""
    if _INSTANT.fullmatch(value) is None:
        raise Invalid("expected ISO 8601 or epoch seconds", field=field)
    if "-" not in value:
        return float(value)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:  # a day the month does not have
        raise Invalid("not a date", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_whole(value: str, field: str, low: int, high: int) -> int:
    """A whole number `low..high` from a query parameter."""
    if re.fullmatch(WHOLE_PATTERN, value) is None or not low <= int(value) <= high:
        raise Invalid(f"must be a whole number {low}..{high}", field=field)
    return int(value)


#: The spellings of a boolean query parameter; the OpenAPI document lists exactly these.
BOOLEANS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_bool(value: str, field: str) -> bool:
    if value not in BOOLEANS:
        raise Invalid(f"expected one of {', '.join(BOOLEANS)}", field=field)
    return BOOLEANS[value]
