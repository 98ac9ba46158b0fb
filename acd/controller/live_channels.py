"""The channels Asterisk has, as AMI reported them: the FastAGI server serves a request only for
a channel (uniqueid and name) found here. What that guarantees: no request for a channel that
does not exist, so no fake call, no agent logged in from a phone that is not on a call. What
it does not: a local process that learnt the FastAGI key can still speak for a live channel
that is not its own, since both halves are easy to know (the uniqueid is the call id that
GET /calls shows, channel names are a counter); the key is what keeps it out.

Fed by the AMI facts in order (Newchannel, Rename, Hangup: `CallFlow.handle`) and replaced by
each resync's Status listing (`Controller`), so it is exact after every (re)login. An AGI
connection can beat its own Newchannel (two TCP connections, and the fact consumer may be busy):
a request for a channel not (yet) seen costs one AMI `Getvar UNIQUEID` on the channel it names,
which Asterisk answers from the channel itself. While AMI is down the check cannot tell
(None); the FastAGI server decides what runs then (agi/server.py).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Mapping
from typing import Protocol

from acd.config.channel_input import UNIQUEID_CHARACTERS

log = logging.getLogger(__name__)

#: Bound on the registry: a Hangup lost with the AMI link can leave an entry behind until the
#: next resync replaces them all; the oldest go first past this many.
MAX_LIVE_CHANNELS = 200_000
#: What Asterisk's channel names and uniqueids look like here: printable, no space, bounded.
#: Anything else is refused before it reaches an AMI header or a log line.
_UNIQUEID = re.compile(rf"{UNIQUEID_CHARACTERS}{{1,150}}")  # Asterisk's AST_MAX_UNIQUEID
_CHANNEL = re.compile(r"[!-~]{1,200}")
#: Seconds the AMI fallback may take before the request is refused.
FALLBACK_TIMEOUT = 2.0


class LiveChannels:
    """uniqueid → channel name of every live channel."""

    def __init__(self, kept: int = MAX_LIVE_CHANNELS) -> None:
        self._names: OrderedDict[str, str] = OrderedDict()
        self._kept = kept

    def __len__(self) -> int:
        return len(self._names)

    def created(self, uniqueid: str, name: str) -> None:
        self._names[uniqueid] = name
        if len(self._names) > self._kept:
            self._names.popitem(last=False)

    def renamed(self, uniqueid: str, name: str) -> None:
        if uniqueid in self._names:
            self._names[uniqueid] = name

    def gone(self, uniqueid: str) -> None:
        self._names.pop(uniqueid, None)

    def reset(self, names: Mapping[str, str]) -> None:
        """Exactly the channels of a Status listing."""
        self._names = OrderedDict(names)

    def matches(self, uniqueid: str, name: str) -> bool:
        return self._names.get(uniqueid) == name

    def name(self, uniqueid: str) -> str | None:
        return self._names.get(uniqueid)


class AmiRequests(Protocol):
    @property
    def logged_in(self) -> bool: ...

    async def request(self, action: Mapping[str, str], within: float = ...) -> _Response: ...


class _Response(Protocol):
    @property
    def success(self) -> bool: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


def well_formed(uniqueid: str, name: str) -> bool:
    return _UNIQUEID.fullmatch(uniqueid) is not None and _CHANNEL.fullmatch(name) is not None


class LiveChannelCheck:
    """`is_live(uniqueid, name)`: the registry, else one AMI round trip (see the docstring);
    None when neither can tell (AMI down)."""

    def __init__(self, channels: LiveChannels, ami: AmiRequests) -> None:
        self.channels = channels
        self.ami = ami
        #: Requests the registry could not answer (each cost a Getvar), for measurements.
        self.fallbacks = 0

    async def is_live(self, uniqueid: str, name: str) -> bool | None:
        if not well_formed(uniqueid, name):
            return False
        if self.channels.matches(uniqueid, name):
            return True
        if not self.ami.logged_in:
            return None
        self.fallbacks += 1
        try:
            response = await self.ami.request(
                {"Action": "Getvar", "Channel": name, "Variable": "UNIQUEID"}, FALLBACK_TIMEOUT
            )
        except Exception as exc:  # no answer in time, link lost: not shown to be live
            log.warning("could not ask Asterisk whether %s is live: %s", name, exc)
            return False
        return response.success and response.headers.get("Value") == uniqueid
