"""Leadership of one ACD among several nodes: a Redis lease with a fencing rule.

The rules (`LeaseRules`) are sans-I/O: times are passed in, and the adapter (`RedisLease`,
on `redis.asyncio`) only sends what they ask and reports what came back.

Keys (``prefix`` is `[cluster] key_prefix`, default ``"acd"``):

- ``f"{prefix}:leader"`` (`leader_key`): the lease, a string ``"<node_id>:<token>"`` (the
  *holder*) with a PX expiry of ``ttl``. Set only if absent (acquire), its expiry pushed back and
  deleted only by the node whose holder it is (compare-and-set scripts).
- ``f"{prefix}:epoch"`` (`epoch_key`): the fencing counter, INCRed at each acquisition in the
  same script that sets the lease; the new value is the leader's ``token``.

Fencing for writers (the journal): a write by the leader runs, in the same Lua script,
`FENCE_CHECK_LUA` (``KEYS[1]`` = leader key, ``ARGV[1]`` = the writer's holder): it refuses the
write unless the lease in Redis is still exactly that holder. The whole holder is compared, not
the token alone: a Redis restarted without persistence starts the epoch from 0 again, and a new
leader could then draw a token an old one still has (their node ids differ; a node draws a new
token at each acquisition, and a process's default node id has its pid).

The fencing rule for actions (AMI, offers) is local and needs no round trip: a leader may act
until ``sent + ttl - margin``, ``sent`` being the moment (on this node's clock) it SENT its last
successful renew or acquire. Redis starts the ttl when it receives the command, i.e. later, so
our deadline falls ``margin`` before Redis's expiry even with a slow network; the margin covers
the two clocks' rates (not their offsets: each side only measures a duration). The clock is
CLOCK_BOOTTIME where there is one (a monotonic clock that also counts a suspended machine), else
`time.monotonic`: a node frozen (SIGSTOP, suspend) past its deadline sees `may_act` False the
moment it runs again, before any reply.

A leader whose token is 1 waits one ttl before it may act (`LeaseRules.acquired`): the epoch
was missing, so Redis may have restarted empty while an old leader is still inside its deadline.
Redis restored from an older snapshot can also hand out a token again; fencing compares the
holder, which stays safe between different nodes, but tokens are only increasing while Redis
keeps its data (run it with appendonly for that).

Defaults: ttl 3 s, renew every 1 s, margin 0.5 s; a follower tries to acquire every
``renew_every / 4``. A dead leader's lease expires at most ``ttl`` after its last renew, the
first follower's try comes at most 0.25 s later: about 3.25 s before the new leader reconciles,
inside the issue's 5 s takeover. A leader survives two lost renews in a row (1 s and 2 s after
the last good one; it retries every 0.25 s after a failure) before its 2.5 s deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

DEFAULT_PREFIX = "acd"


def leader_key(prefix: str) -> str:
    """The lease: ``"<node_id>:<token>"`` while held, with its PX expiry."""
    return f"{prefix}:leader"


def epoch_key(prefix: str) -> str:
    """The fencing counter; its value at an acquisition is that leader's token."""
    return f"{prefix}:epoch"


def holder_value(node_id: str, token: int) -> str:
    return f"{node_id}:{token}"


#: Acquire: set the lease only if nobody holds it (not even this node: a node that stepped down
#: draws a new token), with a new token. KEYS: leader, epoch. ARGV: node_id, ttl in ms.
ACQUIRE_LUA = """
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. token, 'PX', ARGV[2])
return token
"""

#: Renew: push the expiry back only if this holder still has the lease. ARGV: holder, ttl ms.
RENEW_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""

#: Release: delete the lease only if this holder has it. ARGV: holder.
RELEASE_LUA = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

#: The fencing check, to put at the top of a writer's own script: KEYS[1] the leader key,
#: ARGV[1] the writer's holder. Redis runs a script atomically, so the write that follows it in
#: the script happens only while that holder has the lease.
FENCE_CHECK_LUA = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return redis.error_reply('ACD_FENCED the lease is not held by ' .. ARGV[1])
end
"""

#: The error a fenced script returns (redis-py raises it as a ResponseError starting so).
FENCED_ERROR = "ACD_FENCED"


async def fenced(redis: Redis, prefix: str, holder: str) -> bool:
    """True if `holder` no longer has the lease (a new leader was elected, or it expired)."""
    value = await redis.get(leader_key(prefix))
    return _text(value) != holder


def lease_clock() -> float:
    """Seconds on a clock that never goes back and keeps counting while the node is stopped."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        return time.clock_gettime(boottime)
    return time.monotonic()


@dataclass(frozen=True, slots=True)
class LeaseTiming:
    """Seconds. Renew well inside the deadline: ``renew_every < ttl - margin``."""

    ttl: float = 3.0
    renew_every: float = 1.0
    margin: float = 0.5

    def __post_init__(self) -> None:
        for name in ("ttl", "renew_every", "margin"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name} must be a number of seconds, got {value!r}")
            if not (0 < value < 86400):  # also refuses NaN
                raise ValueError(f"{name} must be positive (seconds), got {value!r}")
        if self.ttl < 0.01:
            raise ValueError(f"ttl must be at least 0.01 s (Redis counts ms), got {self.ttl!r}")
        if not self.renew_every < self.ttl - self.margin:
            raise ValueError(
                f"renew_every ({self.renew_every}) must be less than ttl - margin "
                f"({self.ttl} - {self.margin}): a leader renews before it must stop acting"
            )

    @property
    def ttl_ms(self) -> int:
        return max(1, round(self.ttl * 1000))

    @property
    def retry_every(self) -> float:
        """A follower's acquire tries, and a leader's retry after a failed renew."""
        return self.renew_every / 4


class Role(StrEnum):
    FOLLOWER = "follower"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class Elected:
    token: int


@dataclass(frozen=True, slots=True)
class SteppedDown:
    token: int
    #: "expired" (no renew succeeded in time), "lost" (Redis says another holder),
    #: "released" (this node gave it up).
    reason: str


Change = Elected | SteppedDown


class LeaseRules:
    """follower → leader on an acquisition; leader → follower at its deadline, on a renew that
    finds another holder, or on release. `now` and `sent` are `lease_clock()` readings."""

    def __init__(self, timing: LeaseTiming) -> None:
        self.timing = timing
        self.role = Role.FOLLOWER
        self.token: int | None = None
        self._valid_from = -math.inf  # send time of the last successful acquire/renew
        self._act_from = -math.inf
        self._next_attempt = -math.inf

    @property
    def act_until(self) -> float:
        """The deadline: a leader may act strictly before it."""
        if self.role is not Role.LEADER:
            return -math.inf
        return self._valid_from + self.timing.ttl - self.timing.margin

    @property
    def act_from(self) -> float:
        """A leader may act from this moment on: at once, except after a first token (below)."""
        return self._act_from

    def may_act(self, now: float) -> bool:
        return self.role is Role.LEADER and self._act_from <= now < self.act_until

    def due(self, now: float) -> bool:
        """Whether to send an attempt (acquire as follower, renew as leader) now."""
        return now >= self._next_attempt

    def next_wakeup(self) -> float:
        """When something is next to do: an attempt, or a leader's deadline."""
        if self.role is Role.LEADER:
            return min(self._next_attempt, self.act_until)
        return self._next_attempt

    def attempt_timeout(self, now: float) -> float:
        """How long to wait for an attempt's reply: past this it would be worth nothing."""
        if self.role is Role.LEADER:
            return max(0.0, self.act_until - now)
        return self.timing.ttl - self.timing.margin

    def tick(self, now: float) -> list[Change]:
        if self.role is Role.LEADER and now >= self.act_until:
            return self._step_down(now, "expired")
        return []

    def acquired(self, sent: float, token: int, now: float) -> list[Change]:
        """The acquire sent at `sent` won `token`. Returns [] if the reply came too late to
        act on (the caller should then release it)."""
        if self.role is Role.LEADER:
            raise RuntimeError("acquired while leader")
        if now >= sent + self.timing.ttl - self.timing.margin:
            self._next_attempt = now + self.timing.retry_every
            return []
        self.role, self.token, self._valid_from = Role.LEADER, token, sent
        # Token 1: the epoch was missing, so Redis may have lost its data (a restart without
        # persistence) while an old leader still acts inside its deadline, which is at most
        # ttl - margin after its last renew, itself before the loss, itself before this send.
        # Waiting a ttl lets that deadline pass. (The cluster's very first start waits too.)
        self._act_from = sent + self.timing.ttl if token == 1 else -math.inf
        self._next_attempt = sent + self.timing.renew_every
        return [Elected(token)]

    def not_acquired(self, now: float) -> None:
        """Someone else holds the lease, or Redis did not answer."""
        self._next_attempt = now + self.timing.retry_every

    def renewed(self, sent: float, now: float) -> list[Change]:
        """The renew sent at `sent` found the lease ours and pushed it back."""
        changes = self.tick(now)
        if self.role is Role.LEADER:
            self._valid_from = max(self._valid_from, sent)
            self._next_attempt = sent + self.timing.renew_every
        return changes

    def renew_failed(self, now: float) -> list[Change]:
        """Redis errored or did not answer in time: keep the lease until the deadline."""
        self._next_attempt = now + self.timing.retry_every
        return self.tick(now)

    def lost(self, now: float) -> list[Change]:
        """A renew found the lease gone or held by another node."""
        if self.role is not Role.LEADER:
            return []
        return self._step_down(now, "lost")

    def released(self, now: float) -> list[Change]:
        if self.role is not Role.LEADER:
            return []
        return self._step_down(now, "released")

    def _step_down(self, now: float, reason: str) -> list[Change]:
        token = self.token
        assert token is not None
        self.role, self.token, self._valid_from = Role.FOLLOWER, None, -math.inf
        self._act_from = -math.inf
        self._next_attempt = now + self.timing.retry_every
        return [SteppedDown(token, reason)]


def _text(value: Any) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return None if value is None else str(value)


class RedisLease:
    """One node's contender for the lease. `run()` keeps trying (as a task); `may_act()` is the
    check before every action; `on_change` (and `wait_role`) announce elections and step-downs.
    The Redis client should have a socket timeout; each call here is also bounded by the
    rules' `attempt_timeout`, so a hung Redis cannot keep a leader acting past its deadline."""

    def __init__(
        self,
        redis: Redis,
        node_id: str,
        *,
        prefix: str = DEFAULT_PREFIX,
        timing: LeaseTiming | None = None,
        clock: Callable[[], float] = lease_clock,
        on_change: Callable[[Change], None] | None = None,
    ) -> None:
        if not node_id or ":" in node_id:
            raise ValueError(f"node_id must be non-empty and without ':', got {node_id!r}")
        self.redis = redis
        self.node_id = node_id
        self.prefix = prefix
        self.rules = LeaseRules(timing or LeaseTiming())
        self.clock = clock
        self.on_change = on_change
        self.leader_key = leader_key(prefix)
        self.epoch_key = epoch_key(prefix)
        self._acquire = redis.register_script(ACQUIRE_LUA)
        self._renew = redis.register_script(RENEW_LUA)
        self._release = redis.register_script(RELEASE_LUA)
        self._changed = asyncio.Event()
        #: Replies received from Redis (tests check a frozen node decided before any came).
        self.replies = 0

    @property
    def role(self) -> Role:
        return self.rules.role

    @property
    def token(self) -> int | None:
        return self.rules.token

    @property
    def holder(self) -> str | None:
        """``"<node_id>:<token>"`` while leader: the value writers pass to the fencing check."""
        token = self.rules.token
        return None if token is None else holder_value(self.node_id, token)

    def may_act(self) -> bool:
        """Whether this node may issue actions now. Steps down at once past the deadline."""
        now = self.clock()
        self._announce(self.rules.tick(now))
        return self.rules.may_act(now)

    async def wait_role(self, role: Role) -> None:
        while self.rules.role is not role:
            changed = self._changed
            await changed.wait()

    async def run(self) -> None:
        """Contend forever (cancel to stop; then `release()` to hand over at once)."""
        while True:
            cancel_wins()
            now = self.clock()
            self._announce(self.rules.tick(now))
            if self.rules.due(now):
                await self.step()
                continue
            await asyncio.sleep(max(0.0, self.rules.next_wakeup() - now))

    async def step(self) -> None:
        """One attempt: acquire as a follower, renew as a leader."""
        sent = self.clock()
        if self.rules.role is Role.LEADER:
            await self._renew_once(sent)
        else:
            await self._acquire_once(sent)

    async def release(self) -> None:
        """Give the lease up (best effort: if Redis is unreachable it expires by itself)."""
        holder = self.holder
        self._announce(self.rules.released(self.clock()))
        if holder is not None:
            await self._release_holder(holder)

    async def _acquire_once(self, sent: float) -> None:
        try:
            reply = await self._call(self._acquire, [self.node_id, self.rules.timing.ttl_ms], sent)
        except (RedisError, OSError, TimeoutError) as exc:
            cancel_wins(exc)
            log.debug("lease acquire failed: %r", exc)
            self.rules.not_acquired(self.clock())
            return
        now = self.clock()
        if reply is None:
            self.rules.not_acquired(now)
            return
        token = int(reply)
        changes = self.rules.acquired(sent, token, now)
        if not changes:  # won, but too late to act on it: let the others have it
            await self._release_holder(holder_value(self.node_id, token))
        self._announce(changes)

    async def _renew_once(self, sent: float) -> None:
        holder = self.holder
        assert holder is not None
        try:
            reply = await self._call(self._renew, [holder, self.rules.timing.ttl_ms], sent)
        except (RedisError, OSError, TimeoutError) as exc:
            cancel_wins(exc)
            log.warning("lease renew failed: %r", exc)
            self._announce(self.rules.renew_failed(self.clock()))
            return
        now = self.clock()
        if int(reply) == 1:
            changes = self.rules.renewed(sent, now)
            if self.rules.role is not Role.LEADER:  # too late: it is ours, but not to use
                await self._release_holder(holder)
            self._announce(changes)
        else:
            self._announce(self.rules.lost(now))

    async def _call(self, script: Any, args: list[Any], sent: float) -> Any:
        timeout = self.rules.attempt_timeout(sent)
        reply = await asyncio.wait_for(
            script(keys=[self.leader_key, self.epoch_key], args=args), timeout
        )
        self.replies += 1
        return reply

    async def _release_holder(self, holder: str) -> None:
        with contextlib.suppress(RedisError, OSError, TimeoutError):
            await asyncio.wait_for(
                self._release(keys=[self.leader_key], args=[holder]),
                self.rules.timing.ttl - self.rules.timing.margin,
            )

    def _announce(self, changes: list[Change]) -> None:
        if not changes:
            return
        for change in changes:
            log.info("lease %s: %s", self.node_id, change)
            if self.on_change is not None:
                self.on_change(change)
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()


def cancel_wins(exc: BaseException | None = None) -> None:
    """Raise CancelledError if this task's owner asked it to stop. Call it in an `except` of a
    Redis error (redis-py may turn a cancel that lands mid-reply into a connection error) and
    after every successful Redis await of a retry loop (Python 3.11's `asyncio.wait_for`,
    which redis-py and the lease use, returns the reply and swallows a cancel that lands in
    the same turn): the owner's cancel must win, or a loop that retries (the lease's `run()`,
    the journal follower) could never be stopped."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError from exc
