"""What the browser tests drive the pages against: a real `acd serve` on the worker's real
Asterisk (tests/faults' ControllerProcess), its role tokens, simulated callers, and the
requests the browser sent it.

The browser tests are synchronous (Selenium blocks), while the controller process, the AMI
probe that plays the callers and the access-log relay are asyncio objects. They all live on
one event loop in a thread of its own (`BackgroundLoop`), so a blocking Selenium call never
stops a relay or a stream of callers; the tests call `LiveAcd`'s plain methods.

The access log: `acd serve` writes none (aiohttp's access log is off), so the page is served
through a TCP relay that keeps every byte the browser sent (`AccessLog`): the request lines
and headers exactly as they reached the server, whatever the server does with them.

    live = LiveAcd(asterisk, workdir); live.start()
    live.url("/#token=" + live.tokens["reader"])      # what the browser opens
    live.stats()                                      # GET /api/v1/stats/queues, admin
    with live.calls(every=1.0, talk=3):               # a steady stream of callers
        ...
    live.stop(signal.SIGKILL); live.start_again()     # same ports, same store
    live.close()
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import itertools
import os
import re
import secrets
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from faults.harness import ApiReply, Caller, ControllerProcess, Probe, TcpProxy, queue, sim_agent

from acd.asterisk.ports import LOOPBACK
from acd.asterisk.testing import RunningAsterisk

T = TypeVar("T")

#: Every call a test makes into the loop gives up after this long.
CALL_TIMEOUT = 60.0

#: The two queues of the test configuration; the wallboard shows one tile each.
SUPPORT_REASONS = [{"code": "lunch", "label": "Lunch"}, {"code": "training", "label": "Training"}]
SALES_REASONS = [{"code": "break", "label": "Short break"}, {"code": "lunch", "label": "Lunch"}]
QUEUES = [
    queue(
        "support",
        skills={"support": 1},
        sl_threshold=10,
        sl_target=0.8,
        pause_reasons=SUPPORT_REASONS,
    ),
    queue(
        "sales",
        skills={"sales": 1},
        sl_threshold=15,
        sl_target=0.9,
        pause_reasons=SALES_REASONS,
    ),
]
#: Simulated agents (Asterisk answers for them in acd-sim-agent): two per queue that take the
#: streamed calls, the agent-token holder `PANEL_AGENT` (support), and `BACKOFFICE_AGENT`, who
#: serves neither queue (a supervisor's force-pause of it disturbs no queue's numbers).
PANEL_AGENT = "2301"
BACKOFFICE_AGENT = "2401"
AGENTS = [
    sim_agent("2101", name="Ada", skills={"support": 5}),
    sim_agent("2102", name="Grace", skills={"support": 3}),
    sim_agent("2201", name="Linus", skills={"sales": 4}),
    sim_agent("2202", name="Ken", skills={"sales": 2}),
    sim_agent(PANEL_AGENT, name="Barbara", skills={"support": 1}),
    sim_agent(BACKOFFICE_AGENT, name="Edsger", skills={"backoffice": 1}),
]
#: Logged in at the first start; the panel agent starts logged out (its page logs it in).
STREAM_AGENTS = ("2101", "2102", "2201", "2202")
ROLES = ("supervisor", "agent", "reader")


class BackgroundLoop:
    """An asyncio event loop running in a daemon thread; `run(coro)` blocks the caller until
    the coroutine is done there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = CALL_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def spawn(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Start `coro` on the loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def close(self) -> None:
        async def cancel_the_rest() -> None:
            current = asyncio.current_task()
            rest = [t for t in asyncio.all_tasks() if t is not current]
            for task in rest:
                task.cancel()
            await asyncio.gather(*rest, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(cancel_the_rest(), timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        self.loop.close()


_REQUEST_LINE = re.compile(
    rb"^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS) (\S+) HTTP/1\.[01]\r$", re.M
)


@dataclass
class AccessLog:
    """Every byte the browser sent to the server, per connection, in order."""

    sent: dict[int, bytearray] = field(default_factory=dict)

    def tap(self, connection: int, direction: str, data: bytes) -> None:
        if direction == "up":
            self.sent.setdefault(connection, bytearray()).extend(data)

    def raw(self) -> bytes:
        return b"".join(bytes(chunk) for chunk in self.sent.values())

    def requests(self) -> list[str]:
        """One `METHOD target` per request that reached the server (the access log's lines)."""
        return [
            f"{m.group(1).decode()} {m.group(2).decode(errors='replace')}"
            for chunk in self.sent.values()
            for m in _REQUEST_LINE.finditer(bytes(chunk))
        ]

    def outside_authorization(self, secret: str) -> list[str]:
        """The lines sent that carry `secret` anywhere but an `Authorization: Bearer` header
        (request lines, Referer, cookies, bodies)."""
        lines = self.raw().decode(errors="replace").split("\r\n")
        return [
            line
            for line in lines
            if secret in line and line.lower() != f"authorization: bearer {secret}".lower()
        ]


class CallStream:
    """Simulated callers originated at a steady pace into the given queues, in turn; each
    reaches a simulated agent who talks `talk` seconds and hangs up."""

    def __init__(
        self,
        probe: Probe,
        queues: Sequence[str],
        every: float,
        talk: float,
        hold: int,
        ring: float = 0,
    ) -> None:
        self.probe = probe
        self.queues = list(queues)
        self.every = every
        self.talk = talk
        self.ring = ring
        self.hold = hold
        self.callers: list[Caller] = []

    async def run(self) -> None:
        for name in itertools.cycle(self.queues):
            caller = await self.probe.call(name, talk=self.talk, ring=self.ring, hold=self.hold)
            self.callers.append(caller)
            await asyncio.sleep(self.every)


class LiveAcd:
    """`acd serve` on the worker's Asterisk with the test configuration (two queues, six
    simulated agents, a token per role), on fixed free ports for its whole life.

    `agent_token_for`: the agent the agent-role token names (None: no agent token).
    `source`: run `python -m acd` from that tree instead of the installed package (as
    tests/faults' ACD_FAULTS_SOURCE; the fixtures pass that variable on).

    `through_relay` (default) serves the browser through the access-log relay; without it the
    browser connects to `acd serve` itself (a test of what the page sees when the process
    dies: the relay would turn a reset into an orderly close)."""

    def __init__(
        self,
        asterisk: RunningAsterisk,
        workdir: Path,
        *,
        through_relay: bool = True,
        queues: Sequence[Mapping[str, Any]] = QUEUES,
        agents: Sequence[Mapping[str, Any]] = AGENTS,
        logged_in: Sequence[str] = STREAM_AGENTS,
        agent_token_for: str | None = PANEL_AGENT,
        sections: Mapping[str, Mapping[str, Any]] | None = None,
        env: Mapping[str, str] | None = None,
        source: Path | None = None,
        admin_token: str | None = None,
    ) -> None:
        self.asterisk = asterisk
        self.workdir = workdir
        self.admin_token = admin_token or secrets.token_urlsafe(24)
        self.controller = ControllerProcess(
            asterisk,
            workdir,
            queues=queues,
            agents=agents,
            token=self.admin_token,
            env={"ACD_API_TOKEN": self.admin_token, **(env or {})},
            sections=sections,
            source=source,
        )
        self.logged_in = tuple(logged_in)
        self.agent_token_for = agent_token_for
        self.access_log = AccessLog()
        self.relay: TcpProxy | None = None
        if through_relay:
            self.relay = TcpProxy(
                LOOPBACK,
                self.controller.http_port,
                avoid={asterisk.agi_port, asterisk.ami_port, asterisk.sip_port},
                tap=self.access_log.tap,
            )
        #: role → secret: admin from ACD_API_TOKEN, the others issued by POST /tokens.
        self.tokens: dict[str, str] = {"admin": self.admin_token}
        self.background = BackgroundLoop()
        self.probe = Probe(asterisk, events="call")
        self._stream: concurrent.futures.Future[None] | None = None

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Start the process, issue the role tokens, log the streaming agents in."""
        self.background.run(self._start())

    async def _start(self) -> None:
        await self.controller.start()
        if self.relay is not None:
            await self.relay.start()
        await self.probe.start()
        for role in ROLES:
            document: dict[str, Any] = {"name": f"browser-{role}", "role": role}
            if role == "agent":
                if self.agent_token_for is None:
                    continue
                document["agent_id"] = self.agent_token_for
            reply = await self.controller.api("POST", "/tokens", document)
            assert reply.status == 201, reply
            self.tokens[role] = reply.body["token"]
        for agent_id in self.logged_in:
            reply = await self.controller.api("POST", f"/agents/{agent_id}/login")
            assert reply.status == 200, reply

    def stop(self, sig: int = signal.SIGKILL) -> int:
        """Stop `acd serve` with `sig`; its exit status."""
        return self.background.run(self.controller.kill(sig))

    def start_again(self) -> float:
        """Start the stopped process on the same ports, configuration and store; seconds to
        ready."""
        return self.background.run(self.controller.start())

    def close(self) -> None:
        try:
            self.stop_calls()
            self.background.run(self._close())
        finally:
            self.background.close()

    async def _close(self) -> None:
        try:
            await self.probe.close(hangup=True)
        finally:
            if self.relay is not None:
                await self.relay.close()
            await self.controller.close()

    # --- what the browser opens ----------------------------------------------------------------

    @property
    def http_port(self) -> int:
        return self.relay.port if self.relay is not None else self.controller.http_port

    def url(self, path: str = "/") -> str:
        return f"http://{LOOPBACK}:{self.http_port}{path}"

    def serve_log(self) -> str:
        """What `acd serve` wrote to stdout and stderr, every start."""
        return self.controller.log_text()

    # --- the API, as a test checks it ------------------------------------------------------------

    def api(self, method: str, path: str, json: Any = None, *, role: str = "admin") -> ApiReply:
        """One request straight to `acd serve` (not through the relay), with `role`'s token."""
        token = self.tokens[role] if role else ""
        return self.background.run(self.controller.api(method, path, json, token=token))

    def stats(self) -> dict[str, dict[str, Any]]:
        """GET /api/v1/stats/queues by queue name."""
        reply = self.api("GET", "/stats/queues")
        assert reply.status == 200, reply
        return {entry["queue"]: entry for entry in reply.body}

    def agent(self, agent_id: str) -> dict[str, Any]:
        reply = self.api("GET", f"/agents/{agent_id}")
        assert reply.status == 200, reply
        return dict(reply.body)

    def finished(self, call_id: str, within: float = 15.0) -> dict[str, Any]:
        """The call's stored record, once it is no longer live (GET /calls/{id})."""
        return self.background.run(self.controller.finished(call_id, within))

    # --- callers -------------------------------------------------------------------------------

    def call(
        self,
        queue_name: str,
        *,
        talk: float = 3,
        hold: int = 120,
        variables: Mapping[str, str] | None = None,
    ) -> Caller:
        """One simulated caller into `queue_name` (channel `variables` such as
        ACD_CALLER_DATA); the agent it reaches talks `talk` s."""
        return self.background.run(
            self.probe.call(queue_name, talk=talk, hold=hold, variables=variables)
        )

    @contextlib.contextmanager
    def calls(
        self,
        queues: Sequence[str] = ("support", "sales"),
        *,
        every: float = 1.0,
        talk: float = 3,
        ring: float = 0,
        hold: int = 120,
    ) -> Iterator[CallStream]:
        """A steady stream of callers while the block runs (stopped at its end; the calls in
        progress go on); their agents ring `ring` s before answering and talk `talk` s."""
        stream = CallStream(self.probe, queues, every, talk, hold, ring)
        self._stream = self.background.spawn(stream.run())
        try:
            yield stream
        finally:
            self.stop_calls()

    def stop_calls(self) -> None:
        """End the stream of callers; raises what stopped it early (an Originate refused)."""
        if self._stream is None:
            return
        stream, self._stream = self._stream, None
        if stream.done():
            stream.result()  # the stream never ends by itself: this raises its error
        stream.cancel()

    def hang_up_everyone(self) -> int:
        """Hang up every channel of the instance; how many there were."""
        return self.background.run(self.probe.hangup_all())


@contextlib.contextmanager
def running_live_acd(asterisk: RunningAsterisk, workdir: Path, **options: Any) -> Iterator[LiveAcd]:
    """A started LiveAcd (`options` as LiveAcd takes them), closed at the end of the block.
    ACD_FAULTS_SOURCE=<dir> runs `python -m acd serve` from that tree (a commit exported with
    `git archive`), as in the fault tests."""
    if os.environ.get("ACD_FAULTS_SOURCE"):
        options.setdefault("source", Path(os.environ["ACD_FAULTS_SOURCE"]))
    live = LiveAcd(asterisk, workdir, **options)
    try:
        live.start()
        yield live
    finally:
        live.close()


def wait_until(
    check: Callable[[], T | None],
    within: float = 15.0,
    every: float = 0.2,
    what: str | Callable[[], str] = "",
) -> T:
    """Call `check` until it returns something truthy; that value (or AssertionError).
    `what` names the awaited thing (a callable: asked then, to say what it found)."""
    deadline = time.monotonic() + within
    last: T | None = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            said = what() if callable(what) else what
            raise AssertionError(f"not within {within} s: {said or check} (last: {last!r})")
        time.sleep(every)
