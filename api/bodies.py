"""Reading request bodies and query parameters strictly: bad input is a 400/422, never a 500."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, NoReturn

from aiohttp import web

from acd.errors import Invalid
from api.errors import BadRequestError


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
    """
    raw = await request.read()
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
        return json.loads(
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


def parse_instant(value: str, field: str) -> float:
    """Epoch seconds or ISO 8601 (a naive time is taken as UTC) → epoch seconds."""
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number) or not 0 <= number < 1e11:
            raise Invalid("epoch seconds out of range", field=field)
        return number
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Invalid("expected ISO 8601 or epoch seconds", field=field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def parse_bool(value: str, field: str) -> bool:
    lowered = value.lower()
    if lowered in ("1", "true", "yes"):
        return True
    if lowered in ("0", "false", "no"):
        return False
    raise Invalid("expected true or false", field=field)
