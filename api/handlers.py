"""Route handlers: parse the request, call one use case, render the result. No rules here."""

from __future__ import annotations

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from acd.service import LiveCall
from acd.service.monitor import MAX_LOG_ROWS
from acd.service.reports import MAX_INTERVAL, MIN_INTERVAL
from api import views
from api.auth import Permission, requires
from api.bodies import parse_bool, parse_instant, parse_whole, read_json
from api.context import SERVICES
from api.events import stream
from api.openapi import openapi_document
from api.principal import PRINCIPAL

READ, AGENT_STATE, ADMIN = Permission.READ, Permission.AGENT_STATE, Permission.ADMIN
SUPERVISE = Permission.SUPERVISE
TRANSFER = Permission.TRANSFER


def _json(data: object, status: int = 200) -> web.Response:
    return web.json_response(data, status=status)


# --- queues --------------------------------------------------------------------------------


@requires(READ)
async def list_queues(request: web.Request) -> web.Response:
    queues = request.app[SERVICES].queues.list()
    return _json([views.queue_doc(q) for q in queues])


@requires(ADMIN)
async def create_queue(request: web.Request) -> web.Response:
    queue = await request.app[SERVICES].queues.create(await read_json(request))
    return _json(views.queue_doc(queue), 201)


@requires(READ)
async def get_queue(request: web.Request) -> web.Response:
    queue = request.app[SERVICES].queues.get(request.match_info["name"])
    return _json(views.queue_doc(queue))


@requires(ADMIN)
async def replace_queue(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    queue = await request.app[SERVICES].queues.replace(name, await read_json(request))
    return _json(views.queue_doc(queue))


@requires(ADMIN)
async def delete_queue(request: web.Request) -> web.Response:
    force = parse_bool(request.query.get("force", "false"), "force")
    await request.app[SERVICES].queues.delete(request.match_info["name"], force=force)
    return web.Response(status=204)


# --- agents --------------------------------------------------------------------------------


@requires(READ)
async def list_agents(request: web.Request) -> web.Response:
    return _json([views.agent_doc(a) for a in request.app[SERVICES].agents.list()])


@requires(ADMIN)
async def create_agent(request: web.Request) -> web.Response:
    record = await request.app[SERVICES].agents.create(await read_json(request))
    return _json(views.agent_doc(record), 201)


@requires(READ)
async def get_agent(request: web.Request) -> web.Response:
    record = request.app[SERVICES].agents.record(request.match_info["agent_id"])
    return _json(views.agent_doc(record))


@requires(ADMIN)
async def replace_agent(request: web.Request) -> web.Response:
    agent_id = request.match_info["agent_id"]
    record = await request.app[SERVICES].agents.replace(agent_id, await read_json(request))
    return _json(views.agent_doc(record))


@requires(ADMIN)
async def delete_agent(request: web.Request) -> web.Response:
    await request.app[SERVICES].agents.delete(request.match_info["agent_id"])
    return web.Response(status=204)


@requires(AGENT_STATE)
async def login_agent(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].agents.login(request.match_info["agent_id"])
    return _json(views.agent_state_doc(view))


@requires(AGENT_STATE)
async def logout_agent(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].agents.logout(request.match_info["agent_id"])
    return _json(views.agent_state_doc(view))


@requires(AGENT_STATE)
async def pause_agent(request: web.Request) -> web.Response:
    body = await read_json(request, optional=True)
    view = await request.app[SERVICES].agents.pause_request(request.match_info["agent_id"], body)
    return _json(views.agent_state_doc(view))


@requires(AGENT_STATE)
async def unpause_agent(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].agents.unpause(request.match_info["agent_id"])
    return _json(views.agent_state_doc(view))


@requires(AGENT_STATE)
async def end_wrap_up(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].agents.end_wrap_up(request.match_info["agent_id"])
    return _json(views.agent_state_doc(view))


# --- supervisor monitoring ---------------------------------------------------------------


@requires(SUPERVISE)
async def monitor_agent(request: web.Request) -> web.Response:
    body = await read_json(request)
    monitor = request.app[SERVICES].monitor
    entry = await monitor.request(request[PRINCIPAL], request.match_info["agent_id"], body)
    return _json(views.monitor_doc(entry), 202)


@requires(SUPERVISE)
async def monitor_log(request: web.Request) -> web.Response:
    limit = parse_whole(request.query.get("limit", "100"), "limit", 1, MAX_LOG_ROWS)
    entries = await request.app[SERVICES].monitor.recent(limit)
    return _json([views.monitor_doc(e) for e in entries])


# --- calls, statistics, reports, events ----------------------------------------------------


@requires(READ)
async def list_calls(request: web.Request) -> web.Response:
    return _json([views.live_call_doc(c) for c in request.app[SERVICES].calls.live()])


@requires(READ)
async def get_call(request: web.Request) -> web.Response:
    call_id = request.match_info["call_id"]
    found = await request.app[SERVICES].calls.get(call_id)
    if isinstance(found, LiveCall):
        return _json(views.live_call_doc(found))
    return _json(views.finished_call_doc(call_id, found))


@requires(TRANSFER)
async def transfer_call(request: web.Request) -> web.Response:
    body = await read_json(request)
    outcome = await request.app[SERVICES].transfers.transfer(
        request[PRINCIPAL], request.match_info["call_id"], body
    )
    return _json(views.transfer_doc(outcome), 202 if outcome.state == "consulting" else 200)


@requires(TRANSFER)
async def complete_transfer(request: web.Request) -> web.Response:
    outcome = await request.app[SERVICES].transfers.complete(
        request[PRINCIPAL], request.match_info["call_id"]
    )
    return _json(views.transfer_doc(outcome), 202)


@requires(TRANSFER)
async def cancel_transfer(request: web.Request) -> web.Response:
    outcome = await request.app[SERVICES].transfers.cancel(
        request[PRINCIPAL], request.match_info["call_id"]
    )
    return _json(views.transfer_doc(outcome), 202)


@requires(READ)
async def queue_stats(request: web.Request) -> web.Response:
    return _json(list(request.app[SERVICES].reports.live()))


@requires(READ)
async def queue_reports(request: web.Request) -> web.Response:
    query = request.query
    start = parse_instant(query["from"], "from") if "from" in query else None
    end = parse_instant(query["to"], "to") if "to" in query else None
    interval = parse_whole(query.get("interval", "900"), "interval", MIN_INTERVAL, MAX_INTERVAL)
    report = await request.app[SERVICES].reports.queues(start, end, interval)
    return _json(report)


@requires(READ)
async def events(request: web.Request) -> web.StreamResponse:
    return await stream(request, request.app[SERVICES].events)


# --- tokens --------------------------------------------------------------------------------


@requires(ADMIN)
async def list_tokens(request: web.Request) -> web.Response:
    tokens = await request.app[SERVICES].tokens.list()
    return _json([views.principal_doc(t) for t in tokens])


@requires(ADMIN)
async def create_token(request: web.Request) -> web.Response:
    issued = await request.app[SERVICES].tokens.issue(await read_json(request))
    return _json(views.issued_token_doc(issued), 201)


@requires(ADMIN)
async def delete_token(request: web.Request) -> web.Response:
    await request.app[SERVICES].tokens.revoke(request.match_info["name"])
    return web.Response(status=204)


@requires(READ)
async def me(request: web.Request) -> web.Response:
    return _json(views.principal_doc(request[PRINCIPAL]))


# --- without a token -----------------------------------------------------------------------


async def healthz(request: web.Request) -> web.Response:
    return _json({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    body, ready = request.app[SERVICES].health.report()
    return _json(body, 200 if ready else 503)


async def openapi(request: web.Request) -> web.Response:
    return _json(openapi_document(request.app[SERVICES].agents.directory.rules))


async def metrics(request: web.Request) -> web.Response:
    body = generate_latest(request.app[SERVICES].metrics)
    response = web.Response(body=body)
    response.headers["Content-Type"] = CONTENT_TYPE_LATEST
    return response
