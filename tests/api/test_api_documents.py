"""One declaration per document drives three consumers: the OpenAPI schema, the config loader
and the API accept and refuse the same documents, and name the same field when they refuse.

Each case is a document kind, keys laid over a valid document of that kind, and a verdict:
ACCEPT and REFUSE hold for all three; SERVER_ONLY marks the rules JSON Schema cannot state
(the schema accepts, the config loader and the API refuse; the schema's description says so).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from api_openapi_check import schema_errors
from api_support import Api

from acd.config import ConfigError, load_settings

ACCEPT, REFUSE, SERVER_ONLY = "accept", "refuse", "server only"

CASES: list[tuple[str, dict[str, Any], str]] = [
    # names: ASCII letters, digits, - and _ (and . in agent ids), at most 64
    ("queue", {"name": "café"}, REFUSE),
    ("queue", {"name": "support-2_b"}, ACCEPT),
    ("queue", {"name": "q" * 64}, ACCEPT),
    ("queue", {"name": "q" * 65}, REFUSE),
    ("queue", {"name": ""}, REFUSE),
    ("queue", {"name": "a.b"}, REFUSE),
    # Python's jsonschema matches `$` before a final newline; ECMA-262 (the spec) does not.
    ("queue", {"name": "q\n"}, SERVER_ONLY),
    ("agent", {"id": "é1"}, REFUSE),
    ("agent", {"id": "a.b-c_d"}, ACCEPT),
    ("agent", {"id": "a b"}, REFUSE),
    ("agent", {"id": 1001}, REFUSE),
    ("token", {"agent_id": "é1", "role": "agent"}, REFUSE),
    # skill names are free text (never a dialplan extension), levels 1..10
    ("queue", {"skills": {"é": 1, "a": 10}}, ACCEPT),
    ("queue", {"skills": {"a": 0}}, REFUSE),
    ("queue", {"skills": {"a": 11}}, REFUSE),
    ("queue", {"skills": {"": 1}}, REFUSE),
    ("queue", {"skills": {"s" * 65: 1}}, REFUSE),
    ("queue", {"skills": [1]}, REFUSE),
    ("agent", {"skills": {"a": 1.5}}, REFUSE),
    # bool is not a number
    ("queue", {"priority": True}, REFUSE),
    ("queue", {"wrap_up": True}, REFUSE),
    ("queue", {"skills": {"a": True}}, REFUSE),
    ("queue", {"join_empty": 1}, REFUSE),
    ("queue", {"join_empty": "yes"}, REFUSE),
    # JSON's 1.0 is the number 1, for JSON Schema's "integer" and the server alike
    ("queue", {"priority": 1.0}, ACCEPT),
    ("queue", {"priority": 1.5}, REFUSE),
    ("queue", {"skills": {"a": 10.0}}, ACCEPT),
    ("queue", {"priority": "1"}, REFUSE),
    # signs and bounds
    ("queue", {"priority": -5}, ACCEPT),
    ("queue", {"priority": -1_000_000}, ACCEPT),
    ("queue", {"priority": 1_000_001}, REFUSE),
    ("queue", {"wrap_up": -1}, REFUSE),
    ("queue", {"wrap_up": 0}, ACCEPT),
    ("queue", {"rona_delay": -0.5}, REFUSE),
    ("queue", {"ring_timeout": 0}, REFUSE),
    ("queue", {"max_wait": 0}, ACCEPT),
    ("queue", {"max_wait": 10_000_000}, ACCEPT),
    ("queue", {"max_wait": 10_000_001}, REFUSE),
    ("queue", {"max_wait": 1e300}, REFUSE),
    ("queue", {"sl_window": 0}, REFUSE),
    ("queue", {"escalation": [{"after": -1}]}, REFUSE),
    # escalation steps: any order, kept in order of after
    ("queue", {"escalation": [{"after": 10}, {"after": 5}]}, ACCEPT),
    ("queue", {"escalation": [{"after": 5}, {"after": 5, "skills": {"a": 1}}]}, ACCEPT),
    ("queue", {"escalation": [{"skills": {"a": 1}}]}, REFUSE),
    ("queue", {"escalation": {"after": 1}}, REFUSE),
    # enums and text
    ("queue", {"policy": "most_skilled", "primary_skill": "a"}, ACCEPT),
    ("queue", {"policy": "random"}, REFUSE),
    ("queue", {"rona_action": "delay", "rona_delay": 30}, ACCEPT),
    ("queue", {"overflow": "acd-inbound,sales,1"}, ACCEPT),
    ("queue", {"overflow": ""}, REFUSE),
    ("queue", {"overflow": "o" * 201}, REFUSE),
    ("queue", {"primary_skill": ""}, REFUSE),
    ("agent", {"name": "n" * 200, "contact": "Local/77@acd-sim-agent"}, ACCEPT),
    ("agent", {"name": "n" * 201}, REFUSE),
    ("agent", {"contact": 5}, REFUSE),
    ("pause", {"reason": "r" * 100}, ACCEPT),
    ("pause", {"reason": "r" * 101}, REFUSE),
    ("pause", {"reason": 3}, REFUSE),
    ("token", {"name": ""}, REFUSE),
    ("token", {"name": "t" * 65}, REFUSE),
    ("token", {"role": "root"}, REFUSE),
    ("token", {"role": "agent", "agent_id": "1001"}, ACCEPT),
    # the pairing of role and agent (the schema's if/then/else)
    ("token", {"role": "agent"}, REFUSE),
    ("token", {"role": "reader", "agent_id": "1001"}, REFUSE),
    ("token", {"role": "reader", "agent_id": None}, ACCEPT),
    # contacts: one dial string (acd/config/dialstrings.py), or none
    ("agent", {"contact": ""}, ACCEPT),
    ("agent", {"contact": "PJSIP/1001,,tT"}, REFUSE),
    ("agent", {"contact": "PJSIP/1001&PJSIP/1002"}, REFUSE),
    ("agent", {"contact": "DAHDI/g1/0900123"}, REFUSE),
    ("queue", {"overflow": 'x" != "" | "1'}, REFUSE),
    ("queue", {"fallback": "sales"}, REFUSE),
    # the exit key: one DTMF key with a target (the schema's allOf); 1 only without callbacks
    ("queue", {"exit_key": "#", "exit_target": "vm,s,1"}, ACCEPT),
    ("queue", {"exit_key": "0", "exit_target": "ivr,main,start"}, ACCEPT),
    ("queue", {"exit_key": "#"}, REFUSE),
    ("queue", {"exit_key": "1", "exit_target": "vm,s,1"}, REFUSE),
    ("queue", {"exit_key": "1", "exit_target": "vm,s,1", "callback": True}, REFUSE),
    ("queue", {"exit_key": "1", "exit_target": "vm,s,1", "callback": False}, ACCEPT),
    ("queue", {"exit_key": "12", "exit_target": "vm,s,1"}, REFUSE),
    ("queue", {"exit_key": "#", "exit_target": "vm"}, REFUSE),
    ("queue", {"exit_target": "vm,s,1"}, ACCEPT),
    # unknown keys
    ("queue", {"colour": "blue"}, REFUSE),
    ("queue", {"escalation": [{"after": 1, "extra": 1}]}, REFUSE),
    ("agent", {"shoe_size": 44}, REFUSE),
    ("pause", {"why": "x"}, REFUSE),
    ("token", {"secret": "mine"}, REFUSE),
]

SCHEMAS = {"queue": "QueueInput", "agent": "AgentInput", "pause": "PauseRequest",
           "token": "TokenInput"}  # fmt: skip
PATHS = {"queue": "/api/v1/queues", "agent": "/api/v1/agents",
         "pause": "/api/v1/agents/1001/pause", "token": "/api/v1/tokens"}  # fmt: skip


def _document(kind: str, index: int, overrides: dict[str, Any]) -> dict[str, Any]:
    base: dict[str, Any] = {
        "queue": {"name": f"q{index}"},
        "agent": {"id": f"a{index}"},
        "pause": {},
        "token": {"name": f"t{index}", "role": "reader"},
    }[kind]
    return {**base, **overrides}


def _toml(value: Any) -> str:
    """Just enough TOML for these documents (no nulls in these cases)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"


def _config_field(kind: str, document: dict[str, Any], tmp_path: Path) -> str | None:
    """None when the config loader accepts the document, else the field it names."""
    table = "queues" if kind == "queue" else "agents"
    path = tmp_path / "acd.toml"
    body = "".join(f"{json.dumps(k)} = {_toml(v)}\n" for k, v in document.items())
    path.write_text(f"[[{table}]]\n{body}", encoding="utf-8")
    try:
        load_settings(path, env={})
    except ConfigError as exc:
        return exc.field.removeprefix(f"{table}[0]")
    return None


@pytest.fixture
async def logged_in(api: Api) -> Api:
    assert (await api.post("/api/v1/agents/1001/login"))[0] == 200  # pause needs a login
    return api


async def test_schema_config_and_api_agree(logged_in: Api, tmp_path: Path) -> None:
    api = logged_in
    for index, (kind, overrides, verdict) in enumerate(CASES):
        document = _document(kind, index, overrides)
        case = (kind, document, verdict)
        schema_ok = not schema_errors(SCHEMAS[kind], document)
        status, answer = await api.post(PATHS[kind], document, check_request=False)
        assert status in (200, 201, 422), (case, status, answer)
        api_field = None if status != 422 else answer["error"]["field"].removeprefix(kind)
        assert schema_ok == (verdict != REFUSE), case
        assert (api_field is None) == (verdict == ACCEPT), (case, answer)
        if kind in ("queue", "agent"):
            config_field = _config_field(kind, document, tmp_path)
            assert config_field == api_field, case  # the same verdict, and the same field


async def test_the_answers_are_valid_input_documents(api: Api) -> None:
    # What GET returns can be sent back: the answer's schema is the input's, all keys required.
    for path, schema in (("/api/v1/queues", "QueueInput"), ("/api/v1/agents", "AgentInput")):
        status, documents = await api.get(path)
        assert status == 200
        for document in documents:
            stored = {k: v for k, v in document.items() if k in _input_keys(schema)}
            assert schema_errors(schema, stored) == [], document


def _input_keys(schema: str) -> set[str]:
    from api.openapi import openapi_document

    return set(openapi_document()["components"]["schemas"][schema]["properties"])
