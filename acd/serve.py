"""`acd serve`: build the application (`acd.compose`), run it until SIGINT or SIGTERM, then
shut down in reverse order of start."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from aiohttp import web

from acd.compose import assemble, start_controller
from acd.config import ConfigError, Settings, load_settings

log = logging.getLogger("acd.serve")


async def serve(settings: Settings) -> None:
    assembly = await assemble(settings)
    runner = web.AppRunner(assembly.app, access_log=None)
    try:
        await start_controller(assembly)
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
