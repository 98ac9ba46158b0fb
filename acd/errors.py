"""Domain errors with stable codes. The codes are part of the HTTP API: don't rename them.

Only the API's error middleware maps these to HTTP statuses; nothing here knows about HTTP.
"""

from __future__ import annotations


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    """The request is valid but the current state does not allow it (agent busy, duplicate)."""

    code = "conflict"


class NotOnCall(Conflict):
    """The agent has no connected call (a supervisor asked to listen, whisper or barge)."""

    code = "agent_not_on_call"


class NotYours(DomainError):
    """An agent token asked to act on something of another agent's (a call it is not on)."""

    code = "not_your_call"


class Unavailable(DomainError):
    """What the request needs is not there now (no AMI link to Asterisk): retry later."""

    code = "asterisk_unavailable"


class CallerLimit(DomainError):
    """This caller holds as many of something (event streams) as one caller may; retry after
    letting one go."""

    code = "limit_reached"


class CapacityLimit(DomainError):
    """The server holds as many of something (event streams) as it serves in all; retry later."""

    code = "capacity_reached"


class NotLeader(DomainError):
    """A cluster node that no longer leads was asked to change something (its store claim or
    its engine refused it); the leader decides now: retry there."""

    code = "not_leader"


class TooSlow(DomainError):
    """The caller took longer than allowed to send its request (a body trickling in); the
    connection is not kept."""

    code = "request_timeout"


class Invalid(DomainError):
    """The request is malformed or a value is out of range. `field` names the culprit."""

    code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, field: str | None = None) -> None:
        super().__init__(message, code=code)
        self.field = field
