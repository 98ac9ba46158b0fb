"""One FastAGI session on a channel: variables in and out, hang-up as an exception."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Protocol

from acd.config.dialstrings import breaks_lines

log = logging.getLogger(__name__)

_CHANNEL_SUFFIX = re.compile(r"-[0-9a-fA-F]+(;\d)?$")
#: Values MSet takes as they are (no comma, quote, backslash, space or `$`).
_PLAIN = re.compile(r"[A-Za-z0-9_.@/:;+*#-]*\Z")


class AgiRequest(Protocol):
    headers: Mapping[str, str]

    async def send_command(self, command: str) -> dict[str, Any]: ...


class AgiHangupError(Exception):
    """The channel hung up while the route was talking to it."""


class AgiCommandError(ValueError):
    """A command the writer refuses to send (a CR, LF or NUL in it): never reaches Asterisk."""


class AgiChannel:
    def __init__(self, request: AgiRequest) -> None:
        self.request = request
        self.headers = request.headers

    @property
    def uniqueid(self) -> str:
        return self.headers.get("agi_uniqueid", "")

    @property
    def name(self) -> str:
        return self.headers.get("agi_channel", "")

    def arg(self, n: int) -> str:
        return self.headers.get(f"agi_arg_{n}", "")

    async def _command(self, command: str) -> dict[str, Any]:
        # The last line of defence: whatever let such a value through, it stays one command.
        # An AGI command is one line: a CR or LF would start a second command (`EXEC AGI
        # /bin/sh`), a NUL cut it short (the rule shared with the AMI writer).
        if breaks_lines(command):
            log.error("AGI command with a line break refused on %s: %r", self.name, command)
            raise AgiCommandError(f"CR, LF or NUL in an AGI command: {command!r}")
        result = await self.request.send_command(command)
        if result.get("error") in ("AGIResultHangup", "AGIDeadChannelError"):
            raise AgiHangupError(command)
        if "error" in result:
            log.warning("AGI %r on %s: %s", command, self.name, result)
        return result

    async def get(self, name: str) -> str:
        result = await self._command(f"GET VARIABLE {name}")
        value = result.get("result", ("0", ""))
        if isinstance(value, tuple) and value[0] == "1":
            return str(value[1])
        return ""

    async def set(self, name: str, value: str) -> None:
        quoted = value.replace("\\", "\\\\").replace('"', '\\"')
        await self._command(f'SET VARIABLE {name} "{quoted}"')

    async def set_many(self, variables: Mapping[str, str]) -> None:
        """Set several variables in one AGI command (`EXEC MSet`, one round trip) when every
        value is plain (no separator or quote MSet would have to escape); else one by one."""
        if len(variables) > 1 and all(_PLAIN.match(v) for v in variables.values()):
            pairs = ",".join(f"{name}={value}" for name, value in variables.items())
            result = await self._command(f'EXEC MSet "{pairs}"')
            code = result.get("result", ("",))
            if not (isinstance(code, tuple) and code[0] == "-2"):  # -2: no such application
                return
        for name, value in variables.items():
            await self.set(name, value)


def contact_of(channel: str) -> str:
    """`PJSIP/1001-0000002a` → `PJSIP/1001` (the device an agent dialled from)."""
    return _CHANNEL_SUFFIX.sub("", channel)
