"""`acd serve`: the one place the application is wired together, by hand.

    settings → Database (migrate, first-start seed) → Router restored from the store → Engine
    → directory and use cases → listeners (records, metrics, event stream) → controller
    (AMI + FastAGI, when importable) → HTTP API.

`assemble()` builds everything but the controller and the listening socket, so the API tests
run exactly this wiring against a real SQLite file; `serve()` adds those and waits for SIGINT
or SIGTERM, then shuts down in reverse order.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import inspect
import logging
import signal
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from acd.config import ConfigError, Settings, load_settings
from acd.directory import AgentDirectory
from acd.engine import Engine
from acd.metrics import Metrics
from acd.queue_log import QueueLog
from acd.records import Recorder
from acd.reports import Reports
from acd.router.decisions import EventRejected
from acd.router.events import AgentUpserted, QueueUpserted
from acd.router.router import Router
from acd.service import (
    AgentService,
    CallService,
    HealthService,
    QueueService,
    ReportService,
    TokenService,
)
from acd.stats import QueueStats
from acd.storage import Database
from api.app import create_app
from api.context import ApiServices
from api.events import EventHub

log = logging.getLogger("acd.serve")


@dataclass
class Assembly:
    settings: Settings
    database: Database
    engine: Engine
    directory: AgentDirectory
    services: ApiServices
    app: web.Application
    metrics: Metrics | None = None
    recorder: Recorder | None = None
    controller: Any = None
    _closers: list[Callable[[], Any]] = field(default_factory=list)

    async def close(self) -> None:
        """Stop in reverse order of start; every step runs even if an earlier one fails."""
        for closer in reversed(self._closers):
            try:
                result = closer()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("shutdown step %r failed", closer)
        self._closers.clear()


async def assemble(settings: Settings, *, clock: Callable[[], float] = time.time) -> Assembly:
    database = Database(settings.storage.resolved_url())
    closers: list[Callable[[], Any]] = [database.close]
    try:
        await database.migrate()
        if await database.config.seed(settings):
            log.info(
                "first start: seeded %d queue(s) and %d agent(s) from the configuration",
                len(settings.queues),
                len(settings.agents),
            )
        directory = AgentDirectory()
        router = Router()
        await _restore(router, directory, database, clock())

        engine = Engine(router, clock)
        metrics = Metrics(router, clock)
        queue_log = QueueLog(Path(settings.storage.var_dir) / "queue_log")
        recorder = Recorder(metrics, database.records, queue_log, router, clock)
        await recorder.load()
        closers.append(recorder.close)
        engine.add_listener(recorder)
        hub = EventHub()
        engine.add_listener(hub)

        tokens = TokenService(database.config, directory)
        await tokens.ensure_admin(settings.api_token)
        services = ApiServices(
            queues=QueueService(engine, database.config),
            agents=AgentService(engine, directory, database.config),
            calls=CallService(engine, finished=recorder, caller_info=recorder),
            tokens=tokens,
            reports=ReportService(
                engine,
                QueueStats(router, metrics, clock),
                _FlushedReports(recorder, Reports(database.records, clock)),
            ),
            health=HealthService(),
            events=hub,
            metrics=metrics.registry,
        )
        engine.start()
        closers.append(engine.stop)
    except BaseException:
        for closer in reversed(closers):
            with contextlib.suppress(Exception):
                result = closer()
                if inspect.isawaitable(result):
                    await result
        raise
    app = create_app(services)
    return Assembly(
        settings, database, engine, directory, services, app, metrics, recorder, _closers=closers
    )


async def _restore(
    router: Router, directory: AgentDirectory, database: Database, now: float
) -> None:
    """The router's configuration comes from the store (the file only seeds the store)."""
    for queue in await database.config.list_queues():
        _apply(router.handle(QueueUpserted(now, queue)))
    for agent in await database.config.list_agents():
        _apply(router.handle(AgentUpserted(now, agent.id, agent.skills)))
        directory.put(agent)
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
    """Reports read the store: write what the recorder still buffers first, so a report
    includes the call that ended a moment ago."""

    def __init__(self, recorder: Recorder, reports: Reports) -> None:
        self._recorder = recorder
        self._reports = reports

    async def queue_report(self, start: float, end: float, interval: float) -> dict[str, Any]:
        await self._recorder.flush()
        return await self._reports.queue_report(start, end, interval)


async def _start_controller(assembly: Assembly) -> None:
    """The controller (AMI + FastAGI) when it is installed; the API runs without it (not ready)."""
    try:
        module = importlib.import_module("acd.controller")
        start_controller = module.start_controller
    except (ImportError, AttributeError) as exc:
        log.warning("controller unavailable (%s): serving the API only, /readyz reports 503", exc)
        return
    controller = start_controller(
        assembly.settings,
        assembly.engine,
        assembly.directory,
        assembly.services.agents,
        recorder=assembly.recorder,
    )
    if inspect.isawaitable(controller):
        controller = await controller
    assembly.controller = controller
    assembly.services.health.attach(controller)
    assembly._closers.append(controller.stop)


async def serve(settings: Settings) -> None:
    assembly = await assemble(settings)
    runner = web.AppRunner(assembly.app, access_log=None)
    try:
        await _start_controller(assembly)
        await runner.setup()
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        base = f"http://{settings.http.host}:{settings.http.port}"
        log.info(
            "API at %s/api/v1 (OpenAPI: %s/openapi.json), metrics at %s/metrics", base, base, base
        )
        await _until_signalled()
        log.info("shutting down")
    finally:
        await runner.cleanup()
        await assembly.close()


async def _until_signalled() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the controller: AMI client, FastAGI server, HTTP API and /metrics",
        description="Run the ACD. Every configuration key can be overridden by an ACD_… "
        "environment variable (ACD_HTTP_PORT, ACD_API_TOKEN, …).",
    )
    parser.add_argument("--config", metavar="FILE", help="TOML configuration file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings(args.config)
    except (ConfigError, OSError) as exc:
        print(f"acd serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(serve(settings))
    return 0
