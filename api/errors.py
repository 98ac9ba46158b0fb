"""The one place errors become HTTP responses.

Domain errors (`acd.errors`) and configuration errors carry stable codes and no statuses; this
middleware chooses the status. Every error body has the shape
`{"error": {"code": "...", "message": "...", "field": "..."?}}`. Anything unexpected is logged
and answered 500 with code `internal` and no details.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from acd.config import ConfigError
from acd.engine import EngineHalted
from acd.errors import (
    CallerLimit,
    CapacityLimit,
    Conflict,
    DomainError,
    Invalid,
    NotFound,
    NotLeader,
    NotOnCall,
    NotYours,
    TooSlow,
    Unavailable,
)

log = logging.getLogger(__name__)


class ApiError(Exception):
    """An error of the HTTP layer itself (authentication, body syntax)."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class BadRequestError(ApiError):
    code = "bad_request"


class UnauthorizedError(ApiError):
    code = "unauthorized"


class ForbiddenError(ApiError):
    code = "forbidden"


_API_STATUSES: dict[type[ApiError], int] = {
    BadRequestError: 400,
    UnauthorizedError: 401,
    ForbiddenError: 403,
}
_DOMAIN_STATUSES: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    NotOnCall: 409,
    NotYours: 403,
    Invalid: 422,
    CallerLimit: 429,
    CapacityLimit: 503,
    NotLeader: 503,
    Unavailable: 503,
    TooSlow: 408,
}

#: aiohttp's own refusals (no route, wrong method, body too large) under stable codes.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "body_too_large",
    415: "unsupported_media_type",
}


def error_response(status: int, code: str, message: str, field: str | None = None) -> web.Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return web.json_response({"error": error}, status=status, headers=headers)


def _domain_status(error: DomainError) -> int:
    for cls in type(error).__mro__:
        if cls in _DOMAIN_STATUSES:
            return _DOMAIN_STATUSES[cls]
    return 409


@web.middleware
async def error_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except ApiError as exc:
        return error_response(_API_STATUSES.get(type(exc), 400), exc.code, exc.message)
    except Invalid as exc:
        return error_response(422, exc.code, exc.message, exc.field)
    except TooSlow as exc:
        # aiohttp would go on reading the rest of the body (its lingering close, 10 s): send
        # the answer, then close the connection at once.
        response = error_response(408, exc.code, exc.message)
        response.force_close()
        await response.prepare(request)
        await response.write_eof()
        if request.transport is not None:
            request.transport.close()  # after what is written is flushed
        return response
    except DomainError as exc:
        return error_response(_domain_status(exc), exc.code, exc.message)
    except ConfigError as exc:
        return error_response(422, "invalid", exc.message, exc.field)
    except EngineHalted as exc:  # a cluster node that lost the lease (as NotLeader)
        return error_response(503, "not_leader", f"this node no longer decides: {exc}; retry")
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _HTTP_CODES.get(exc.status, "http_error")
        response = error_response(exc.status, code, exc.reason)
        if exc.status == 405 and "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal", "internal error (logged)")
