"""The aiohttp application: the route table, the error middleware, nothing global.

`create_app(services)` is called by `acd serve` (and the tests) with the use cases built by
hand in `acd.serve`; the app holds them under one typed key. It also serves the browser pages
(`api.pages`: `/`, `/agent`, `/static/<name>`), outside PREFIX and without a token.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware

from api import handlers as h
from api.context import SERVICES, ApiServices
from api.errors import error_middleware
from api.pages import add_page_routes

PREFIX = "/api/v1"
MAX_BODY_BYTES = 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

#: (method, path under PREFIX, handler). openapi.py documents exactly these (a test checks).
ROUTES: tuple[tuple[str, str, Handler], ...] = (
    ("GET", "/queues", h.list_queues),
    ("POST", "/queues", h.create_queue),
    ("GET", "/queues/{name}", h.get_queue),
    ("PUT", "/queues/{name}", h.replace_queue),
    ("DELETE", "/queues/{name}", h.delete_queue),
    ("GET", "/agents", h.list_agents),
    ("POST", "/agents", h.create_agent),
    ("GET", "/agents/{agent_id}", h.get_agent),
    ("PUT", "/agents/{agent_id}", h.replace_agent),
    ("DELETE", "/agents/{agent_id}", h.delete_agent),
    ("POST", "/agents/{agent_id}/login", h.login_agent),
    ("POST", "/agents/{agent_id}/logout", h.logout_agent),
    ("POST", "/agents/{agent_id}/pause", h.pause_agent),
    ("POST", "/agents/{agent_id}/unpause", h.unpause_agent),
    ("POST", "/agents/{agent_id}/end_wrap_up", h.end_wrap_up),
    ("POST", "/agents/{agent_id}/monitor", h.monitor_agent),
    ("GET", "/monitor_log", h.monitor_log),
    ("GET", "/calls", h.list_calls),
    ("GET", "/calls/{call_id}", h.get_call),
    ("POST", "/calls/{call_id}/transfer", h.transfer_call),
    ("POST", "/calls/{call_id}/transfer/complete", h.complete_transfer),
    ("POST", "/calls/{call_id}/transfer/cancel", h.cancel_transfer),
    ("GET", "/stats/queues", h.queue_stats),
    ("GET", "/reports/queues", h.queue_reports),
    ("GET", "/events", h.events),
    ("GET", "/tokens", h.list_tokens),
    ("POST", "/tokens", h.create_token),
    ("DELETE", "/tokens/{name}", h.delete_token),
    ("GET", "/me", h.me),
    ("GET", "/healthz", h.healthz),
    ("GET", "/readyz", h.readyz),
    ("GET", "/openapi.json", h.openapi),
    ("GET", "/metrics", h.metrics),
)

#: Served without a token, under PREFIX and also at the root (where probes and Prometheus look).
PUBLIC_PATHS = ("/healthz", "/readyz", "/openapi.json", "/metrics")


def create_app(services: ApiServices, middlewares: Sequence[Middleware] = ()) -> web.Application:
    """`middlewares` run inside the error middleware (a cluster standby's forwarding)."""
    app = web.Application(
        middlewares=[error_middleware, *middlewares], client_max_size=MAX_BODY_BYTES
    )
    app[SERVICES] = services
    for method, path, handler in ROUTES:
        app.router.add_route(method, PREFIX + path, handler)
        if path in PUBLIC_PATHS:
            app.router.add_route(method, path, handler)
    # The wallboard and the agent panel (no data, no token): on every node, a standby too.
    add_page_routes(app)
    app.on_shutdown.append(_end_event_streams)
    return app


async def _end_event_streams(app: web.Application) -> None:
    app[SERVICES].events.close()
