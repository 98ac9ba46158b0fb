"""The OpenAPI 3.1 document of the API, next to the routes it describes.

The schemas of what clients send (queue, agent, pause and token requests) are generated from
their declarations in acd/config/documents.py, the same that validate the bodies and the config
file; the schemas of what the API answers with are written here, reusing those declarations.
Tests validate every request they send and every response they get against this document, and
check that it lists exactly the routes `api.app.ROUTES` serves.
"""

from __future__ import annotations

import copy
from functools import cache
from typing import Any, Literal

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, models_json_schema
from pydantic_core import CoreSchema

from acd.config import ROLES
from acd.config.dialstrings import DEFAULT_RULES, DialRules
from acd.config.documents import DOCUMENTS, MONITOR_MODES, Skills, contact_pattern
from acd.router.model import AgentState
from acd.service.monitor import MAX_LOG_ROWS
from acd.service.reports import MAX_INTERVAL, MAX_INTERVALS, MIN_INTERVAL
from api.bodies import BOOLEANS, INSTANT_PATTERN

Schema = dict[str, Any]
_REF = "#/components/schemas/{model}"


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(type_name: str) -> Schema:
    return {"type": [type_name, "null"]}


class _Generator(GenerateJsonSchema):
    def field_title_should_be_set(self, schema: CoreSchema) -> bool:
        return False  # pydantic would title each property after its name ("Wrap Up"): noise


def _declared() -> dict[str, Schema]:
    """QueueInput, EscalationStepInput, AgentInput, PauseRequest, TokenInput and their enums."""
    models: list[tuple[type[BaseModel], Literal["validation"]]] = [
        (m, "validation") for m in DOCUMENTS
    ]
    _, top = models_json_schema(models, ref_template=_REF, schema_generator=_Generator)
    declared: dict[str, Schema] = top["$defs"]
    declared["Skills"] = TypeAdapter(Skills).json_schema(schema_generator=_Generator)
    return declared


def _variant(schema: Schema, description: str, *, required: list[str] | None) -> Schema:
    """The same document with other keys required: PUT bodies (none), answers (all)."""
    variant = {k: v for k, v in schema.items() if k not in ("required", "title", "description")}
    variant["description"] = description
    if required:
        variant["required"] = required
    return variant


_DECLARED = _declared()
_QUEUE = _DECLARED["QueueInput"]
_AGENT = _DECLARED["AgentInput"]
_AGENT_STATE_PROPERTIES: Schema = {
    "state": {"enum": [state.value for state in AgentState]},
    "pause_reason": _nullable("string"),
    "idle_since": {
        "type": ["number", "null"],
        "description": "epoch seconds the agent last became able to take a call",
    },
    "state_since": {
        "type": ["number", "null"],
        "description": "epoch seconds the agent entered its current state (a new pause reason "
        "is a new pause; kept across a restart); null if it never logged in",
    },
    "reachable": {"type": "boolean"},
    "call_id": _nullable("string"),
    "pending": {"enum": ["pause", "logout", None], "description": "deferred until wrap-up ends"},
}
_ROLE: Schema = {"enum": list(ROLES)}

SCHEMAS: dict[str, Schema] = {
    **_DECLARED,
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "stable; part of the API"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "the invalid field, dotted"},
                },
            }
        },
    },
    "QueueReplacement": _variant(
        _QUEUE, "the whole queue; omitted keys take their defaults; name optional", required=None
    ),
    "Queue": _variant(_QUEUE, "a queue", required=list(_QUEUE["properties"])),
    "AgentReplacement": _variant(
        _AGENT, "name, contact and skills; omitted keys are emptied; id optional", required=None
    ),
    "Agent": _variant(
        {
            **_AGENT,
            "properties": {
                **_AGENT["properties"],
                # What was accepted under the rules then in force; stated in the inputs.
                "contact": {"type": "string"},
                **_AGENT_STATE_PROPERTIES,
            },
        },
        "an agent and where it stands",
        required=[*_AGENT["properties"], *_AGENT_STATE_PROPERTIES],
    ),
    "AgentState": {
        "type": "object",
        "required": ["id", *_AGENT_STATE_PROPERTIES, "pending_reason"],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            **_AGENT_STATE_PROPERTIES,
            "pending_reason": _nullable("string"),
        },
    },
    "LiveCall": {
        "type": "object",
        "required": ["id", "live", "queue", "state", "priority", "position", "agent_id"],
        "properties": {
            "id": {"type": "string"},
            "live": {"const": True},
            "queue": {"type": "string"},
            "state": {"enum": ["waiting", "offered", "connected"]},
            "priority": {"type": "integer"},
            "position": {
                "type": ["integer", "null"],
                "description": "1-based place among the queue's waiting calls; null unless waiting",
            },
            "agent_id": _nullable("string"),
            "requirements": _ref("Skills"),
            "extra_skills": _ref("Skills"),
            "arrived_at": {"type": "number"},
            "enqueued_at": {"type": "number"},
            "queue_entered_at": {"type": "number"},
            "answered_at": {
                "type": ["number", "null"],
                "description": "epoch seconds the agent answered; null until connected (and for "
                "a call a restarted controller found connected)",
            },
            "step": {"type": "integer", "description": "0: base requirements, n: escalation n"},
            "rona_count": {"type": "integer"},
            "caller": {
                "type": ["object", "null"],
                "description": "caller id and ACD_CALLER_DATA where the controller knows them",
            },
        },
    },
    "FinishedCall": {
        "type": "object",
        "required": ["id", "live", "queue", "outcome", "agent_id", "caller_data", "legs"],
        "description": "the stored call records: the last queue visit up front, every visit "
        "(a call that overflowed has one per queue) under legs",
        "properties": {
            "id": {"type": "string"},
            "live": {"const": False},
            "queue": {"type": "string"},
            "outcome": {
                "type": ["string", "null"],
                "description": "answered, abandoned, short_abandoned, overflowed, exited; null "
                "while still open (interrupted only in records from before re-adoption). "
                "exit_reason tells an end nobody saw: ended_unobserved (answered), "
                "lost_unobserved (abandoned), asterisk_stopped",
            },
            "agent_id": _nullable("string"),
            "caller_data": _nullable("string"),
            "legs": {"type": "array", "items": {"type": "object"}},
        },
    },
    "ServiceLevels": {
        "type": "object",
        "description": "the three treatments (README definitions); null when undefined",
        "required": ["ignore_abandons", "abandons_against", "abandons_for"],
        "additionalProperties": _nullable("number"),
    },
    "QueueStats": {
        "type": "object",
        "required": [
            "queue",
            "waiting",
            "ringing",
            "connected",
            "oldest_wait",
            "agents",
            "service_level",
            "today",
            "sl_target",
            "pause_reasons",
        ],
        "description": "live KPIs of one queue: calls now, agents (by state) whose skills meet "
        "the queue's base requirements, service level over sl_window, all-time totals, "
        "today's figures",
        "properties": {
            "queue": {"type": "string"},
            "waiting": {"type": "integer"},
            "ringing": {"type": "integer"},
            "connected": {"type": "integer"},
            "oldest_wait": {"type": "number"},
            "agents": {"type": "object", "additionalProperties": {"type": "integer"}},
            "sl_threshold": {"type": "number"},
            "sl_target": _QUEUE["properties"]["sl_target"],
            "sl_window": {"type": "number"},
            "service_level": _ref("ServiceLevels"),
            "window": {"type": "object", "additionalProperties": {"type": "integer"}},
            "totals": {"type": "object", "additionalProperties": {"type": "integer"}},
            "today": _ref("QueueToday"),
            "pause_reasons": _QUEUE["properties"]["pause_reasons"],
        },
    },
    "QueueToday": {
        "type": "object",
        "required": ["offered", "answered", "abandoned", "short_abandoned", "asa", "since"],
        "additionalProperties": False,
        "description": "the queue visits that entered the queue since local midnight (the "
        "controller's time zone), as a report from `since` to now counts them; kept across "
        "a restart",
        "properties": {
            "offered": {"type": "integer"},
            "answered": {"type": "integer"},
            "abandoned": {"type": "integer", "description": "lost calls"},
            "short_abandoned": {"type": "integer"},
            "transferred": {
                "type": "integer",
                "description": "answered here, then transferred on by the agent",
            },
            "asa": {
                **_nullable("number"),
                "description": "mean wait of today's answered calls in seconds; null when none",
            },
            "since": {"type": "number", "description": "epoch seconds of local midnight"},
        },
    },
    "QueueReportRow": {
        "type": "object",
        "required": ["queue", "from", "to", "offered", "answered", "abandoned", "service_level"],
        "description": "one queue in one interval (calls belong to the interval they entered "
        "the queue in); asa and aht in seconds, null without answered calls",
        "properties": {
            "queue": {"type": "string"},
            "from": {"type": "number"},
            "to": {"type": "number"},
            "offered": {"type": "integer"},
            "answered": {"type": "integer"},
            "answered_within_threshold": {"type": "integer"},
            "abandoned": {"type": "integer"},
            "short_abandoned": {"type": "integer"},
            "overflowed": {"type": "integer"},
            "exited": {"type": "integer"},
            "transferred": {
                "type": "integer",
                "description": "answered visits the agent transferred on (among answered; the "
                "call's next visit is offered in the target queue)",
            },
            "service_level": _ref("ServiceLevels"),
            "asa": _nullable("number"),
            "aht": _nullable("number"),
            "longest_wait": _nullable("number"),
        },
    },
    "QueueReport": {
        "type": "object",
        "required": ["from", "to", "interval", "queues", "totals"],
        "description": "per queue and interval (`queues`), per queue over the range "
        "(`totals`), per agent over the range (`agents`: calls, talk, wrap-up, seconds per "
        "state, pauses by reason, occupancy)",
        "properties": {
            "from": {"type": "number"},
            "to": {"type": "number"},
            "interval": {"type": "number"},
            "queues": {"type": "array", "items": _ref("QueueReportRow")},
            "totals": {"type": "array", "items": _ref("QueueReportRow")},
            "agents": {"type": "array", "items": {"type": "object"}},
        },
    },
    "Transfer": {
        "type": "object",
        "description": "what a blind transfer did: the caller waits in to_queue, is already "
        "offered to the next agent (offered_to), or left to_queue at once by its rules "
        "(exit_reason join_empty: to the queue's exit, as a caller arriving there would)",
        "required": [
            "call_id",
            "from_queue",
            "to_queue",
            "from_agent",
            "keep_place",
            "state",
            "offered_to",
            "exit_reason",
            "consult_id",
        ],
        "additionalProperties": False,
        "properties": {
            "call_id": {"type": "string"},
            "from_queue": {"type": "string"},
            "to_queue": {"type": "string"},
            "from_agent": {"type": "string", "description": "the agent freed into wrap-up"},
            "keep_place": {"type": "boolean"},
            "state": {
                "enum": ["waiting", "offered", "exited", "consulting", "completing", "cancelling"]
            },
            "offered_to": {"type": ["string", "null"]},
            "exit_reason": {"type": ["string", "null"]},
            "consult_id": {
                "type": ["string", "null"],
                "description": "a warm transfer's consultation call, once it entered",
            },
        },
    },
    "MonitorEntry": {
        "type": "object",
        "description": "one supervisor request in the audit log",
        "required": [
            "id",
            "at",
            "token",
            "role",
            "agent_id",
            "call_id",
            "mode",
            "contact",
            "result",
        ],
        "additionalProperties": False,
        "properties": {
            "id": {"type": "string"},
            "at": {"type": "number", "description": "epoch seconds of the request"},
            "token": {"type": "string", "description": "the name of the token that asked"},
            "role": _ROLE,
            "agent_id": {"type": "string"},
            "call_id": {"type": "string", "description": "the agent's call then"},
            "mode": {"enum": list(MONITOR_MODES)},
            "contact": {"type": "string", "description": "the supervisor's phone called"},
            "result": {
                "enum": ["dialing", "answered", "unanswered", "not_sent", "no_response", "refused"],
                "description": "dialing until the supervisor's phone answered (answered: "
                "ChanSpy runs) or not (unanswered: busy, refused or no answer in 30 s); "
                "not_sent: no AMI link; no_response: Asterisk never told",
            },
        },
    },
    "Token": {
        "type": "object",
        "required": ["name", "role", "agent_id"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "role": _ROLE,
            "agent_id": _nullable("string"),
        },
    },
    "IssuedToken": {
        "type": "object",
        "required": ["name", "role", "agent_id", "token"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "role": _ROLE,
            "agent_id": _nullable("string"),
            "token": {"type": "string", "description": "the secret; shown only in this answer"},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"const": "ok"}},
    },
    "Readiness": {
        "type": "object",
        "required": ["status", "checks"],
        "properties": {
            "status": {"enum": ["ready", "not_ready"]},
            "role": {
                "enum": ["leader", "standby"],
                "description": "a cluster node only ([cluster]); a standby is ready "
                "while it follows the journal (it serves reads, forwards writes)",
            },
            "node": {"type": "string", "description": "a cluster node's node_id"},
            "checks": {
                "type": "object",
                "required": ["controller", "ami_connected", "state_synced"],
                "additionalProperties": {"type": "boolean"},
            },
        },
    },
}

_ERRORS = {
    "400": "the body is not JSON (syntax, content type, or a number out of range)",
    "401": "missing or unknown bearer token",
    "403": "the token's role does not allow this",
    "404": "no such resource",
    "408": "the body did not arrive within [http] header_timeout (request_timeout); closed",
    "409": "the current state does not allow this",
    "422": "JSON, but not a valid document (`field` names the culprit)",
    "429": "this token holds as many event streams as one token may (too_many_event_streams)",
    "503": "the server serves as many event streams as it may (event_streams_exhausted); "
    "or no AMI link to Asterisk for an action on a call (asterisk_unavailable)",
}


def _json_content(schema: Schema) -> Schema:
    return {"application/json": {"schema": schema}}


def _responses(ok_status: str, ok: Schema | None, description: str, *errors: str) -> Schema:
    responses: Schema = {ok_status: {"description": description}}
    if ok is not None:
        responses[ok_status]["content"] = _json_content(ok)
    # Whatever reads a body (documented with its 400) may time out reading it.
    for status in ("401", "403", *errors, *(("408",) if "400" in errors else ())):
        responses[status] = {"$ref": f"#/components/responses/E{status}"}
    return responses


def _op(
    op_id: str, summary: str, responses: Schema, body: Schema | None = None,
    *, optional_body: bool = False, parameters: list[Schema] | None = None,
) -> Schema:  # fmt: skip
    operation: Schema = {"operationId": op_id, "summary": summary, "responses": responses}
    if body is not None:
        operation["requestBody"] = {"required": not optional_body, "content": _json_content(body)}
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_param(name: str) -> Schema:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def _query(name: str, description: str, schema: Schema) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _public(op_id: str, summary: str, responses: Schema) -> Schema:
    return {"operationId": op_id, "summary": summary, "security": [], "responses": responses}


_AGENT_STATE_OK = _responses("200", _ref("AgentState"), "the agent's state after the change",
                             "404", "409")  # fmt: skip
_INSTANT = {
    "type": "string",
    "pattern": INSTANT_PATTERN,
    "description": "epoch seconds, or ISO 8601: a date, optionally a time and an offset "
    "(none: UTC)",
}


def _paths() -> Schema:
    name, agent_id, call_id = _path_param("name"), _path_param("agent_id"), _path_param("call_id")
    return {
        "/queues": {
            "get": _op("listQueues", "All queues",
                       _responses("200", {"type": "array", "items": _ref("Queue")}, "queues")),
            "post": _op("createQueue", "Create a queue (admin)",
                        _responses("201", _ref("Queue"), "created", "400", "409", "422"),
                        _ref("QueueInput")),
        },
        "/queues/{name}": {
            "parameters": [name],
            "get": _op("getQueue", "One queue",
                       _responses("200", _ref("Queue"), "the queue", "404")),
            "put": _op("replaceQueue", "Replace a queue's configuration (admin); 409 "
                       "rename_refused for a body naming another queue",
                       _responses("200", _ref("Queue"), "replaced", "400", "404", "409", "422"),
                       _ref("QueueReplacement")),
            "delete": _op(
                "deleteQueue",
                "Delete a queue (admin). Refused with 409 queue_busy while calls are in it, "
                "unless force=true: then waiting and ringing calls leave the ACD (reason "
                "queue_removed, back to the dialplan) and connected calls finish.",
                _responses("204", None, "deleted", "404", "409", "422"),
                parameters=[_query("force", "delete even with live calls",
                                   {"type": "string", "enum": list(BOOLEANS)})],
            ),
        },
        "/agents": {
            "get": _op("listAgents", "All agents with their state",
                       _responses("200", {"type": "array", "items": _ref("Agent")}, "agents")),
            "post": _op("createAgent", "Create an agent, logged out (admin)",
                        _responses("201", _ref("Agent"), "created", "400", "409", "422"),
                        _ref("AgentInput")),
        },
        "/agents/{agent_id}": {
            "parameters": [agent_id],
            "get": _op("getAgent", "One agent",
                       _responses("200", _ref("Agent"), "the agent", "404")),
            "put": _op("replaceAgent", "Replace an agent's name, contact and skills (admin); "
                       "409 rename_refused for a body naming another agent",
                       _responses("200", _ref("Agent"), "replaced", "400", "404", "409", "422"),
                       _ref("AgentReplacement")),
            "delete": _op("deleteAgent",
                          "Delete an agent (admin); 409 agent_busy while ringing, talking or "
                          "in wrap-up",
                          _responses("204", None, "deleted", "404", "409")),
        },
        "/agents/{agent_id}/login": {
            "parameters": [agent_id],
            "post": _op("loginAgent", "Log in (agent tokens: own agent only)", _AGENT_STATE_OK),
        },
        "/agents/{agent_id}/logout": {
            "parameters": [agent_id],
            "post": _op("logoutAgent", "Log out; deferred to the end of a call and wrap-up",
                        _AGENT_STATE_OK),
        },
        "/agents/{agent_id}/pause": {
            "parameters": [agent_id],
            "post": _op("pauseAgent", "Pause with a reason; deferred like logout",
                        _responses("200", _ref("AgentState"), "the agent's state", "400", "404",
                                   "409", "422"),
                        _ref("PauseRequest"), optional_body=True),
        },
        "/agents/{agent_id}/unpause": {
            "parameters": [agent_id],
            "post": _op("unpauseAgent", "Unpause (idle since now)", _AGENT_STATE_OK),
        },
        "/agents/{agent_id}/end_wrap_up": {
            "parameters": [agent_id],
            "post": _op("endWrapUp", "End the wrap-up now, before its time: available (idle "
                        "since now), or the pending pause or logout applies; nothing changes "
                        "outside wrap-up; 409 agent_not_logged_in while logged out",
                        _AGENT_STATE_OK),
        },
        "/agents/{agent_id}/monitor": {
            "parameters": [agent_id],
            "post": _op(
                "monitorAgent",
                "Listen to, whisper to or barge into the agent's connected call (supervisor, "
                "admin): the supervisor's phone (contact) is called and, once answered, hears "
                "the call (ChanSpy on the agent's leg); whisper: the agent hears the "
                "supervisor, the caller does not; barge: both do. Accepted at once (the "
                "phone has not answered yet) and kept in the audit log (GET /monitor_log); "
                "409 agent_not_on_call, 409 own_phone (the contact is the agent's), 503 "
                "asterisk_unavailable without an AMI link",
                _responses("202", _ref("MonitorEntry"), "the audit entry, result dialing",
                           "400", "404", "409", "422", "503"),
                _ref("MonitorRequest"),
            ),
        },
        "/monitor_log": {
            "get": _op(
                "monitorLog", "The supervisors' listen / whisper / barge requests, newest "
                "first (supervisor, admin)",
                _responses("200", {"type": "array", "items": _ref("MonitorEntry")},
                           "audit entries", "422"),
                parameters=[_query("limit", "rows at most (default 100)",
                                   {"type": "integer", "minimum": 1,
                                    "maximum": MAX_LOG_ROWS})],
            ),
        },
        "/calls": {
            "get": _op("listCalls", "Live calls: waiting, offered, connected",
                       _responses("200", {"type": "array", "items": _ref("LiveCall")}, "calls")),
        },
        "/calls/{call_id}": {
            "parameters": [call_id],
            "get": _op("getCall", "A live call, or the record of a finished one",
                       _responses("200", {"oneOf": [_ref("LiveCall"), _ref("FinishedCall")]},
                                  "the call", "404")),
        },
        "/calls/{call_id}/transfer": {
            "parameters": [call_id],
            "post": _op(
                "transferCall",
                "Hand a connected call on (a blind transfer) into a queue and/or to required "
                "skills (admin, supervisor; an agent token only its own call: 403 "
                "not_your_call): the caller hears the target queue's music while the next "
                "agent is found, the agent is freed into its wrap-up, the caller data and the "
                "note go with the call; keep_place orders it by its first entry. 409 "
                "call_not_connected, 422 unknown_queue (field queue), 503 asterisk_unavailable "
                "when the caller's channel cannot be moved now (nothing changed)",
                {
                    **_responses("200", _ref("Transfer"), "what the transfer did", "400",
                                 "403", "404", "409", "422", "503"),
                    "202": {
                        "description": "a warm transfer's consultation started",
                        "content": _json_content(_ref("Transfer")),
                    },
                },
                _ref("TransferRequest"),
            ),
        },
        "/calls/{call_id}/transfer/complete": {
            "parameters": [call_id],
            "post": _op(
                "completeTransfer",
                "Complete a warm transfer: the agent's leg is hung up and Asterisk joins the "
                "caller and the specialist (409 consult_not_answered until the specialist "
                "answered, 409 no_consultation)",
                _responses("202", _ref("Transfer"), "completing", "400", "403", "404",
                           "409", "503"),
            ),
        },
        "/calls/{call_id}/transfer/cancel": {
            "parameters": [call_id],
            "post": _op(
                "cancelTransfer",
                "Cancel a warm transfer: the consultation is hung up and the agent is back "
                "with the caller (409 no_consultation, consult_not_ready while dialling)",
                _responses("202", _ref("Transfer"), "cancelling", "400", "403", "404",
                           "409", "503"),
            ),
        },
        "/stats/queues": {
            "get": _op("queueStats", "Live per-queue KPIs",
                       _responses("200", {"type": "array", "items": _ref("QueueStats")}, "stats")),
        },
        "/reports/queues": {
            "get": _op(
                "queueReport", "Interval report per queue",
                _responses("200", _ref("QueueReport"), "the report", "422"),
                parameters=[
                    _query("from", "start (default: 24 h before to); before to, and the range "
                           f"at most {MAX_INTERVALS} intervals (checked by the server)", _INSTANT),
                    _query("to", "end (default: now)", _INSTANT),
                    _query("interval", "seconds per interval (default 900)",
                           {"type": "integer", "minimum": MIN_INTERVAL,
                            "maximum": MAX_INTERVAL}),
                ],
            ),
        },
        "/events": {
            "get": _op(
                "events",
                "Server-sent events: `event: agent` and `event: call` with JSON data "
                "(agent state changes; an agent's phone becoming unreachable or reachable "
                "again: {agent_id, reachable, at} without state; call waiting, offered, "
                "connected, escalated, overflowed, transferred, abandoned, exited, ended). A "
                "client that falls behind is disconnected.",
                _responses("200", None, "text/event-stream", "429", "503"),
            ),
        },
        "/tokens": {
            "get": _op("listTokens", "API tokens, without secrets (admin)",
                       _responses("200", {"type": "array", "items": _ref("Token")}, "tokens")),
            "post": _op("createToken", "Issue a token (admin); the secret is shown once",
                        _responses("201", _ref("IssuedToken"), "issued", "400", "404", "409",
                                   "422"),
                        _ref("TokenInput")),
        },
        "/tokens/{name}": {
            "parameters": [name],
            "delete": _op("deleteToken", "Revoke a token (admin)",
                          _responses("204", None, "revoked", "404")),
        },
        "/me": {
            "get": _op("me", "Who this token is (any role): its name, role and, for an agent "
                       "token, its agent", _responses("200", _ref("Token"), "the caller")),
        },
        "/healthz": {
            "get": _public("healthz", "The process is up",
                           {"200": {"description": "up",
                                    "content": _json_content(_ref("Health"))}}),
        },
        "/readyz": {
            "get": _public("readyz", "AMI connected and state synced", {
                "200": {"description": "ready", "content": _json_content(_ref("Readiness"))},
                "503": {"description": "not ready", "content": _json_content(_ref("Readiness"))},
            }),
        },
        "/openapi.json": {
            "get": _public("openapi", "This document",
                           {"200": {"description": "OpenAPI 3.1",
                                    "content": _json_content({"type": "object"})}}),
        },
        "/metrics": {
            "get": _public("metrics", "Prometheus metrics (text exposition format)", {
                "200": {"description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}}},
            }),
        },
    }  # fmt: skip


def openapi_document(rules: DialRules = DEFAULT_RULES) -> dict[str, Any]:
    """The document; `rules` (the `[dial]` settings) decide what an agent's contact may be."""
    return copy.deepcopy(_document(rules))


@cache
def _document(rules: DialRules) -> dict[str, Any]:
    schemas = copy.deepcopy(SCHEMAS)
    for name in ("AgentInput", "AgentReplacement"):
        schemas[name]["properties"]["contact"]["pattern"] = contact_pattern(rules)
    schemas["MonitorRequest"]["properties"]["contact"]["pattern"] = rules.pattern()
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "acd control API",
            "version": "1.0.0",
            "description": "Queues, agents, live calls, statistics and reports of the ACD. "
            "healthz, readyz, openapi.json and metrics are also served at the root path.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "roles: admin (everything), supervisor (read, change agent "
                    "states), agent (read, change its own state), reader (read)",
                }
            },
            "schemas": schemas,
            "responses": {
                f"E{status}": {
                    "description": description,
                    "content": _json_content(_ref("Error")),
                }
                for status, description in _ERRORS.items()
            },
        },
    }
