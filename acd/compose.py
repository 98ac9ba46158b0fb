"""The composition root: the one place the application is wired together, by hand.

    settings → Database (migrate, first-start seed) → Router restored from the store → Engine
    → directory and use cases → listeners (observers, event stream) → HTTP API
    → controller (AMI) and the FastAGI server, sharing one call tracker.

The observers (`observe()`): the engine feeds the dispatch latency and the call records; the
call records feed their happenings to the batch writer (queue_log, then the store) and to
the metrics; at start the metrics count the stored records through that same feed.

`assemble()` builds everything but the Asterisk side and the listening sockets, so the API
tests run exactly this wiring against a real SQLite file; `start_controller()` adds the AMI
controller and the FastAGI server. `acd.serve` runs both and waits for a signal.

A cluster's leader (acd/cluster/node.py) is assembled the same way, as a restarted controller,
with a `Leadership`: it claims the store's write fence first, journals every router input
(append before apply), and takes the agents' states from its replica of the old leader.
`assemble_standby()` builds a standby's read side over its replica: the same API, whose
writes are forwarded to the leader, and the same observers, which write nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from aiohttp import web

from acd.config import Settings
from acd.controller import Controller, ControllerNotes
from acd.controller.adoption import PendingCallback
from acd.controller.calls import CallTracker
from acd.controller.live_channels import LiveChannelCheck
from acd.controller.monitor import MonitorDialer
from acd.controller.snapshot import parse_skills
from acd.controller.transfer import ControllerTransferLine
from acd.demo.driver import start_demo
from acd.engine import Engine, Journal, Step
from acd.observe.dispatch import DispatchLatency
from acd.observe.metrics import Metrics
from acd.observe.metrics_feed import MetricsFeed
from acd.observe.queue_log import QueueLog, QueueLogWriter
from acd.observe.records import CallRecorder
from acd.observe.reports import Reports
from acd.observe.stats import QueueStats
from acd.observe.store_writer import READ_WAIT, StoredCalls, StoreWriter
from acd.observe.today import TodayCounts
from acd.observe.writer import BatchWriter
from acd.private_files import private_dir
from acd.recovery import AgentStateWriter, restore_agent_states
from acd.recovery.agent_states import AgentStates
from acd.router.decisions import EventRejected
from acd.router.events import AgentRemoved, AgentUpserted, QueueUpserted
from acd.router.model import CallView
from acd.router.router import Router
from acd.service import (
    AgentService,
    CallService,
    HealthService,
    QueueService,
    ReportService,
    TokenService,
)
from acd.service.directory import AgentDirectory
from acd.service.entry import CallNotes, EntryService
from acd.service.monitor import MonitorService
from acd.service.reports import QueueReportSource
from acd.service.transfer import TransferService
from acd.storage import Database
from acd.storage.config_store import ConfigStore
from acd.storage.dead_letters import FILE_NAME as DEAD_LETTERS_FILE
from acd.storage.dead_letters import DeadLetters
from acd.storage.record_store import CallRecord, RecordStore
from agi.routes import AgiRoutes
from agi.server import FastAgiServer
from api.app import create_app
from api.context import ApiServices
from api.events import EventHub

log = logging.getLogger(__name__)


class Leadership(Protocol):
    """What makes an assembly a cluster's leader (acd/cluster/node.py)."""

    async def claim_store(self, database: Database) -> None:
        """After migrating, before anything is written: the old leader's writes stop here."""

    async def begin(self, router: Router) -> Journal:
        """The router holds the stored configuration: publish it (a snapshot at the journal's
        head) and return the journal every later input goes through."""

    def agent_states(self, store: AgentStates) -> AgentStates:
        """Where the agents' states are restored from (the replica), saving to `store`."""

    def may_act(self) -> bool:
        """Whether this node still leads (the lease): the queue_log is appended only then."""


@dataclass
class Assembly:
    settings: Settings
    database: Database
    engine: Engine
    directory: AgentDirectory
    services: ApiServices
    app: web.Application
    metrics: Metrics | None = None
    recorder: CallRecorder | None = None
    writer: BatchWriter | None = None  # `await writer.flush()`: records and queue_log written
    controller: Controller | None = None
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    async def close(self) -> None:
        await _close_all(self._closers)


async def _close_all(closers: list[Callable[[], Any]]) -> None:
    """Stop in reverse order of start; every step runs even if an earlier one fails."""
    for closer in reversed(closers):
        try:
            result = closer()
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("shutdown step %r failed", closer)
    closers.clear()


async def assemble(
    settings: Settings,
    *,
    clock: Callable[[], float] = time.time,
    leadership: Leadership | None = None,
) -> Assembly:
    var_dir = private_dir(settings.storage.var_dir)  # holds caller data: 0700
    # A cluster's store is fenced: its leader's claim refuses a deposed leader's writes.
    database = Database(settings.storage.resolved_url(), fenced=leadership is not None)
    closers: list[Callable[[], Any]] = [database.close]
    try:
        await database.migrate()
        if leadership is not None:
            await leadership.claim_store(database)
        if await database.config.seed(settings):
            log.info(
                "first start: seeded %d queue(s) and %d agent(s) from the configuration",
                len(settings.queues),
                len(settings.agents),
            )
        directory = AgentDirectory(settings.dial.rules())
        router = Router()
        await _restore(router, directory, database, clock())
        journal = None if leadership is None else await leadership.begin(router)

        engine = Engine(router, clock, journal)
        observers = await observe(
            router,
            database.records,
            var_dir,
            clock,
            gate=None if leadership is None else leadership.may_act,
        )
        closers.append(observers.writer.close)
        observers.listen(engine)
        agent_states = AgentStateWriter(
            router,
            database.agent_states,
            dead_letters=DeadLetters(
                var_dir / DEAD_LETTERS_FILE, observers.metrics.dead_lettered, clock
            ),
        )
        # Closers run in reverse: the last agent states are written after the engine stops.
        closers.append(agent_states.close)
        engine.add_listener(agent_states)
        services = await _services(
            settings,
            engine,
            directory,
            database,
            observers,
            _FlushedReports(observers.writer, Reports(database.records, clock)),
            HealthService(),
            clock,
        )
        engine.add_listener(services.events)
        await services.tokens.revoke_orphans()
        engine.start()
        closers.append(engine.stop)
        # Through the engine, once every listener is attached: the records open each restored
        # agent's interval and the queue_log says ADDMEMBER, as for a login.
        await restore_agent_states(
            router,
            database.agent_states
            if leadership is None
            else leadership.agent_states(database.agent_states),
            clock(),
            lambda event: engine.submit(lambda _now: event),
        )
    except BaseException:
        await _close_all(closers)
        raise
    app = create_app(services)
    return Assembly(
        settings,
        database,
        engine,
        directory,
        services,
        app,
        observers.metrics,
        observers.recorder,
        observers.writer,
        _closers=closers,
    )


async def _services(
    settings: Settings,
    engine: Engine,
    directory: AgentDirectory,
    database: Database,
    observers: Observers,
    reports: QueueReportSource,
    health: HealthService,
    clock: Callable[[], float],
) -> ApiServices:
    """The API's use cases over `engine` (a leader's or a standby's); the configured admin
    token stored (or kept) first."""
    tokens = TokenService(database.config, directory)
    await tokens.configure_admin(settings.api_token)
    return ApiServices(
        queues=QueueService(engine, database.config),
        agents=AgentService(engine, directory, database.config),
        calls=CallService(engine, finished=observers.calls, caller_info=observers.recorder),
        tokens=tokens,
        reports=ReportService(
            engine, QueueStats(engine.router, observers.metrics, observers.today, clock), reports
        ),
        health=health,
        events=EventHub(
            max_streams=settings.http.max_event_streams,
            max_per_owner=settings.http.max_event_streams_per_token,
        ),
        metrics=observers.metrics.registry,
        monitor=MonitorService(engine.router, directory, database.monitor_log, clock),
        transfers=TransferService(engine, notes=observers.recorder),
    )


@dataclass(frozen=True, slots=True)
class Observers:
    """Everything that watches the engine and keeps what it saw (see the module docstring)."""

    metrics: Metrics
    dispatch: DispatchLatency
    recorder: CallRecorder
    writer: BatchWriter
    calls: StoredCalls
    today: TodayCounts

    def listen(self, engine: Engine) -> None:
        # Dispatch first: its latency should not include the records' work.
        engine.add_listener(self.dispatch)
        engine.add_listener(self.recorder)


async def observe(
    router: Router,
    store: RecordStore,
    var_dir: Path,
    clock: Callable[[], float] = time.time,
    *,
    write: bool = True,
    gate: Callable[[], bool] | None = None,
) -> Observers:
    """Build the observers and restore the metrics from the store; `listen` attaches them.
    `var_dir` gets the queue_log and the dead letters (rows the store refused). `write`
    False (a cluster's standby): the records are kept and counted, never written; `gate` (a
    cluster leader's lease): the queue_log is appended only while it is open."""
    metrics = Metrics(router, clock)
    recorder = CallRecorder(router)
    # The store before the queue_log within a batch (acd.observe.writer): a line is only
    # written once its record is stored.
    dead_letters = DeadLetters(var_dir / DEAD_LETTERS_FILE, metrics.dead_lettered, clock)
    writer = BatchWriter(
        [StoreWriter(store, dead_letters), QueueLogWriter(QueueLog(var_dir / "queue_log"), gate)]
    )
    feed = MetricsFeed(metrics)
    today = TodayCounts()
    if write:
        recorder.subscribe(writer)
    recorder.subscribe(feed)
    recorder.subscribe(today)
    # A previous run's open agent intervals end now (the restored agents open new ones); its
    # open call records stay open, pending adoption (see the module docstring). Every stored
    # record is counted through the feed the live happenings take, once: an adopted record
    # tells only what it had not told yet.
    if write:
        await store.close_open_intervals(clock())
    recorder.pending(await store.open_calls())
    stored = await store.all_calls()
    feed.restore(stored)
    today.restore(stored, clock())
    return Observers(
        metrics,
        DispatchLatency(metrics, clock),
        recorder,
        writer,
        StoredCalls(store, writer),
        today,
    )


async def _restore(
    router: Router, directory: AgentDirectory, database: Database, now: float
) -> None:
    """The router's configuration comes from the store (the file only seeds the store)."""
    for queue in await database.config.list_queues():
        _apply(router.handle(QueueUpserted(now, queue)))
    for agent in await database.config.list_agents():
        _apply(router.handle(AgentUpserted(now, agent.id, agent.skills)))
        directory.restore(agent)
    log.info(
        "restored %d queue(s) and %d agent(s) from storage",
        len(router.queues()),
        len(router.agents()),
    )


def _apply(decisions: Sequence[object]) -> None:
    for decision in decisions:
        if isinstance(decision, EventRejected):
            log.warning("stored configuration rejected: %s (%s)", decision.message, decision.code)


class _FlushedReports:
    """Reports read the store: write what the batch writer still buffers first (for at most
    `READ_WAIT`: the database may be down), so a report includes the call that ended a
    moment ago."""

    def __init__(self, writer: BatchWriter, reports: Reports) -> None:
        self._writer = writer
        self._reports = reports

    async def queue_report(self, start: float, end: float, interval: float) -> dict[str, Any]:
        if not await self._writer.flush_within(READ_WAIT):
            log.warning("queue report read from the store with records not yet written")
        return await self._reports.queue_report(start, end, interval)


class AsteriskNotes(CallNotes, ControllerNotes, Protocol):
    """What the observers learn from the Asterisk side (`_AsteriskNotes` sorts it out)."""


class _AsteriskNotes:
    """The Asterisk side tells one object; the call facts go to the call records, the AMI
    link's state to its gauge."""

    def __init__(self, recorder: CallRecorder, metrics: Metrics) -> None:
        self._recorder = recorder
        self._metrics = metrics
        self._tracker: CallTracker | None = None

    def attach(self, tracker: CallTracker) -> None:
        """The controller's calls: where a callback goes is on the live call."""
        self._tracker = tracker

    def callback_requested(self, call_id: str) -> None:
        call = None if self._tracker is None else self._tracker.get(call_id)
        self._recorder.callback_requested(call_id, None if call is None else call.callback_to)

    def caller_data(self, call_id: str, text: str) -> None:
        self._recorder.caller_data(call_id, text)

    def hung_up_by(self, call_id: str, side: str) -> None:
        self._recorder.hung_up_by(call_id, side)

    def ended_because(self, call_id: str, reason: str) -> None:
        self._recorder.ended_because(call_id, reason)

    def set_ami_connected(self, connected: bool) -> None:
        self._metrics.set_ami_connected(connected)


@dataclass
class AsteriskSide:
    """The AMI controller and the FastAGI server, sharing one call tracker."""

    controller: Controller
    agi: FastAgiServer
    engine: Engine

    async def stop(self) -> None:
        """Gracefully: no new callers, no new decisions, then let go of AMI. Nobody is
        hung up or moved; the next start adopts the calls."""
        await self.agi.stop()
        await self.engine.stop()
        await self.controller.stop()


def pending_callbacks(records: Sequence[CallRecord]) -> list[PendingCallback]:
    """The accepted callbacks among the records a previous run left open (no answer yet:
    the caller hung up and waits to be called back)."""
    return [
        PendingCallback(
            call_id=r.call_id,
            queue=r.queue,
            callback_to=r.callback_to,
            enqueued_at=r.arrived,
            queue_entered_at=r.entered,
            priority=r.priority,
            extra_skills=parse_skills(r.extra_skills or ""),
        )
        for r in records
        if r.callback_requested and r.callback_to and r.answered is None and r.ended is None
    ]


async def start_asterisk_side(
    settings: Settings,
    engine: Engine,
    directory: AgentDirectory,
    agents: AgentService,
    notes: AsteriskNotes | None = None,
    *,
    callbacks: Sequence[PendingCallback] = (),
    before_ready: Sequence[Callable[[], Any]] = (),
    gate: Callable[[], bool] | None = None,
    publish: Mapping[str, str] | None = None,
    transfers: TransferService | None = None,
) -> AsteriskSide:
    """Start the AMI controller; returns at once (see `Controller.wait_ready`). The FastAGI
    server starts once the first resync has adopted the calls Asterisk holds, after the
    `before_ready` steps (sync or async), so no caller is registered before its
    predecessors are back in their places. `gate` and `publish`: a cluster leader's (its
    lease decides whether it may act; its FastAGI address is published as ACD_AGI).
    `transfers` moves callers through this controller (the API's and the feature code's)."""
    controller = Controller(settings.ami, engine, directory, notes, gate=gate, publish=publish)
    if transfers is not None:
        transfers.attach(
            ControllerTransferLine(controller.tracker, controller.ami, controller.flow.channels)
        )
    entry = EntryService(
        engine,
        controller.tracker,
        controller.flow,
        controller.handle_times,
        notes,
        settings.dial.rules(),
        contacts=directory.by_contact,  # a caller's number never rings an agent's phone
    )
    # Only Asterisk drives the controller: the dialplan's key and a live channel (agi/server.py).
    agi = FastAgiServer(
        AgiRoutes(entry, agents, transfers).routes(),
        settings.agi.host,
        settings.agi.port,
        secret=settings.agi.resolved_secret(),
        check=LiveChannelCheck(controller.flow.channels, controller.ami),
        max_connections=settings.agi.max_connections,
        gate=gate,
    )
    # The port is ours from now on (a taken one fails the start here); served once ready.
    await agi.bind()
    controller.adopt_callbacks(callbacks)
    for step in before_ready:
        controller.before_ready(_awaitable(step))
    controller.before_ready(agi.start)
    await controller.start()
    return AsteriskSide(controller, agi, engine)


def _awaitable(step: Callable[[], Any]) -> Callable[[], Any]:
    async def run() -> None:
        result = step()
        if inspect.isawaitable(result):
            await result

    return run


async def start_controller(
    assembly: Assembly,
    *,
    gate: Callable[[], bool] | None = None,
    publish: Mapping[str, str] | None = None,
    replica_calls: Sequence[CallView] = (),
) -> Controller:
    """Add the Asterisk side to an assembled application, notes going to its observers.
    `replica_calls` (a cluster's new leader): the old leader's calls, as its replica had them;
    those nobody recorded and Asterisk no longer holds get their record after the first
    resync (`CallRecorder.close_vanished`)."""
    notes = None
    recorder = assembly.recorder
    if recorder is not None and assembly.metrics is not None:
        notes = _AsteriskNotes(recorder, assembly.metrics)
    engine = assembly.engine
    before_ready: list[Callable[[], Any]] = []
    callbacks: list[PendingCallback] = []
    if recorder is not None:
        callbacks = pending_callbacks(recorder.pending_records())
        before_ready.append(lambda: _end_unadopted(recorder, engine.now()))
        if replica_calls:
            before_ready.append(lambda: _end_vanished(recorder, replica_calls, engine.now()))
    side = await start_asterisk_side(
        assembly.settings,
        engine,
        assembly.directory,
        assembly.services.agents,
        notes,
        callbacks=callbacks,
        before_ready=before_ready,
        gate=gate,
        publish=publish,
        transfers=assembly.services.transfers,
    )
    if notes is not None:
        notes.attach(side.controller.tracker)
    if assembly.metrics is not None:
        side.agi.on_refused = assembly.metrics.agi_refused
    assembly._closers.append(side.stop)
    assembly.controller = side.controller
    assembly.services.health.attach(side.controller)
    # Supervisors' listen / whisper / barge dial through this controller's AMI link.
    monitor = assembly.services.monitor
    monitor.attach(
        MonitorDialer(side.controller.tracker, side.controller.ami, assembly.settings.dial.rules())
    )
    assembly._closers.append(monitor.close)
    if assembly.settings.demo.enabled:  # stopped before the controller (closers reversed)
        demo = start_demo(
            assembly.settings.demo, side.controller, assembly.services.agents, gate=gate
        )
        assembly._closers.append(demo.stop)
    return side.controller


def _end_vanished(recorder: CallRecorder, calls: Sequence[CallView], now: float) -> None:
    ended = recorder.close_vanished(calls, now)
    if ended:
        log.info("%d call(s) of the old leader, never recorded and gone, ended unobserved", ended)


def _end_unadopted(recorder: CallRecorder, now: float) -> None:
    ended = recorder.close_unadopted(now)
    if ended:
        log.info("%d call record(s) left open by the last run ended unobserved", ended)


class DirectoryFollower:
    """A standby's agent directory (name, contact: what the router does not hold) follows the
    store: the leader stores an agent before it submits the change, so when the replayed step
    arrives the store has it."""

    def __init__(self, directory: AgentDirectory, config: ConfigStore) -> None:
        self._directory = directory
        self._config = config
        self._tasks: set[asyncio.Task[None]] = set()

    def on_step(self, step: Step) -> None:
        if isinstance(step.event, AgentUpserted | AgentRemoved):
            task = asyncio.create_task(self._refresh(step.event.agent_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _refresh(self, agent_id: str) -> None:
        try:
            seed = await self._config.get_agent(agent_id)
        except Exception:
            log.exception("standby: agent %s not re-read from the store", agent_id)
            return
        if seed is None:
            self._directory.remove(agent_id)
        else:
            self._directory.restore(seed)


async def assemble_standby(
    settings: Settings,
    router: Router,
    *,
    health: HealthService,
    middlewares: Sequence[Any] = (),
    clock: Callable[[], float] = time.time,
) -> Assembly:
    """A standby's read side over `router`, its replica (acd/cluster/replica.py): the API
    answers reads from it and forwards writes (`middlewares`); the observers count what the
    replayed steps tell and write nothing. Its engine never runs (halted): the journal feeds
    `router`, and `engine.replay` hands each applied step to the listeners."""
    var_dir = private_dir(settings.storage.var_dir)
    # Fenced with no claim: a standby writes no record or agent state, whatever asks it to.
    database = Database(settings.storage.resolved_url(), fenced=True)
    closers: list[Callable[[], Any]] = [database.close]
    try:
        await database.migrate()  # a first start: the standby may be up before any leader
        directory = AgentDirectory(settings.dial.rules())
        for agent in await database.config.list_agents():
            directory.restore(agent)
        engine = Engine(router, clock)
        engine.halt(RuntimeError("a standby decides nothing: writes go to the leader"))
        engine.add_listener(DirectoryFollower(directory, database.config))
        observers = await observe(router, database.records, var_dir, clock, write=False)
        observers.listen(engine)
        services = await _services(
            settings,
            engine,
            directory,
            database,
            observers,
            Reports(database.records, clock),
            health,
            clock,
        )
        engine.add_listener(services.events)
    except BaseException:
        await _close_all(closers)
        raise
    app = create_app(services, middlewares)
    return Assembly(
        settings,
        database,
        engine,
        directory,
        services,
        app,
        observers.metrics,
        observers.recorder,
        None,
        _closers=closers,
    )
