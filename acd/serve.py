"""`acd serve`: build the application (`acd.compose`), run it until SIGINT or SIGTERM, then
shut down in reverse order of start.

SIGTERM (or SIGINT) is graceful: the HTTP API and the FastAGI server stop taking requests,
the engine stops deciding, the AMI link closes without hanging up or moving anyone, and the
records, the queue_log and the agent states still buffered are written. Asterisk keeps every
caller (waiting callers hear their music, connected ones keep talking) and the next start
adopts them. A controller that cannot become ready (the FastAGI port is taken) exits 1.

It refuses to start (exit 2) when the HTTP API would serve a weak admin token beyond this
host: the demo token, a configured token shorter than 32 characters or of fewer than 8
distinct characters on a non-loopback `[http] host`; a token with whitespace on any address.
On loopback (`make run`) the demo token keeps working.

With `[cluster]` the process is one node of an active/standby cluster (acd/cluster/node.py):
a standby until it wins the lease, then the leader, and a standby again if it loses it."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import logging
import signal
import sys
from collections.abc import Coroutine
from typing import Any

from aiohttp import web

from acd.compose import assemble, start_controller
from acd.config import ConfigError, Settings, load_settings
from acd.fdlimit import raise_open_files_limit
from acd.gc_tuning import settle_heap
from acd.private_files import private_dir
from api.bodies import BODY_TIMEOUT

log = logging.getLogger("acd.serve")

#: acd.example.toml's token, for `make run` on a laptop.
DEMO_TOKEN = "demo-admin-token"
MIN_EXPOSED_TOKEN_LENGTH = 32
#: A token of a few distinct characters repeated ("a" * 32) is long but not secret. A random
#: 32-character hex token (the narrowest usual alphabet) has fewer than 8 distinct characters
#: with a probability under 1e-6 (fewer than 10: about 1e-4, too many honest refusals).
MIN_EXPOSED_TOKEN_VARIETY = 8
#: Seconds the HTTP server waits for requests in flight when it stops.
SHUTDOWN_TIMEOUT = 2.0


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or localhost; anything else (a name, "", 0.0.0.0) may be reachable."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings) -> None:
    """ConfigError if the admin token is too weak for the address the API listens on."""
    token, host = settings.api_token, settings.http.host
    if token and any(c.isspace() or not c.isprintable() for c in token):
        # On any address: a client strips the bearer value, so such a token half works.
        raise ConfigError(
            "api_token",
            "the admin token (api_token or ACD_API_TOKEN) contains whitespace or a control "
            "character; use a random secret (python3 -c 'import secrets; "
            "print(secrets.token_urlsafe(32))')",
        )
    if not token or is_loopback(host):
        return
    if token == DEMO_TOKEN:
        weakness = f"is the demo token {DEMO_TOKEN!r}"
    elif len(token) < MIN_EXPOSED_TOKEN_LENGTH:
        weakness = f"has {len(token)} characters, fewer than {MIN_EXPOSED_TOKEN_LENGTH}"
    elif len(set(token)) < MIN_EXPOSED_TOKEN_VARIETY:
        weakness = (
            f"has only {len(set(token))} distinct characters, fewer than "
            f"{MIN_EXPOSED_TOKEN_VARIETY}"
        )
    else:
        return
    raise ConfigError(
        "api_token",
        f"the admin token (api_token or ACD_API_TOKEN) {weakness}, and the API would listen "
        f"on {host!r} ([http] host / ACD_HTTP_HOST), not a loopback address. Set "
        f"ACD_API_TOKEN to a random secret of at least {MIN_EXPOSED_TOKEN_LENGTH} characters "
        "(python3 -c 'import secrets; print(secrets.token_urlsafe(32))') or listen on "
        "127.0.0.1",
    )


def http_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """aiohttp's keep-alive timer also runs while a connection has sent only part of a
    request head (from the connection or the previous response on): as `header_timeout` it
    bounds how long a slow head holds a connection. It does not run during a handler (an
    event stream stays open), so the handlers bound reading a body by the same number, and
    so does aiohttp's lingering read of a body no handler read (a 401 before it)."""
    seconds = float(settings.http.header_timeout)
    app[BODY_TIMEOUT] = seconds
    # A stop (or a cluster node's change of role) waits this long for requests in flight,
    # not aiohttp's 60 s: an event stream or a hung forward must not hold the port.
    return web.AppRunner(
        app,
        access_log=None,
        keepalive_timeout=seconds,
        lingering_time=seconds,
        shutdown_timeout=SHUTDOWN_TIMEOUT,
    )


async def serve(settings: Settings) -> int:
    check_exposure(settings)
    raise_open_files_limit()
    if settings.cluster is not None:
        from acd.cluster.node import run_node  # only a cluster node loads the Redis client

        return await run_node(settings, lambda app: http_runner(app, settings))
    assembly = await assemble(settings)
    runner = http_runner(assembly.app, settings)
    status = 0
    try:
        controller = await start_controller(assembly)
        settle_heap()  # what the start built stays out of the collector's full passes
        await runner.setup()
        site = web.TCPSite(runner, settings.http.host, settings.http.port)
        await site.start()
        base = f"http://{settings.http.host}:{settings.http.port}"
        log.info(
            "API at %s/api/v1 (OpenAPI: %s/openapi.json), metrics at %s/metrics", base, base, base
        )
        failure = await _until_signalled(controller.wait_failed())
        if failure is not None:
            log.error("stopping: %s", failure)
            status = 1
        log.info("shutting down")
    finally:
        await runner.cleanup()
        await assembly.close()
    return status


async def _until_signalled(failed: Coroutine[Any, Any, BaseException]) -> BaseException | None:
    """Until SIGINT/SIGTERM (None) or until `failed` returns (its exception)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    signalled = asyncio.ensure_future(stop.wait())
    failure = asyncio.ensure_future(failed)
    try:
        await asyncio.wait({signalled, failure}, return_when=asyncio.FIRST_COMPLETED)
        return failure.result() if failure.done() else None
    finally:
        signalled.cancel()
        failure.cancel()
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
        check_exposure(settings)
        private_dir(settings.storage.var_dir)  # a shared one: NotPrivateError, refused here
    except (ConfigError, OSError) as exc:
        print(f"acd serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        stream=sys.stderr,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return asyncio.run(serve(settings))
    except OSError as exc:  # a port taken at start (FastAGI: acd.compose binds it first)
        print(f"acd serve: {exc}", file=sys.stderr)
        return 1
