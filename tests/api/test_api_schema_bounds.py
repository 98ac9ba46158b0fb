"""Three of issue #11's schema/server mismatches, one plain test each: empty skill names,
seconds over 1e7 and integers over 18 digits. Each value is judged by the OpenAPI document
first (`schema_errors`) and the server must say the same: what the schema forbids is refused
(400/422), what it allows at the bound is accepted."""

from __future__ import annotations

import json
from typing import Any

import pytest
from api_openapi_check import schema_errors
from api_support import Api

from acd.config.documents import MAX_SECONDS

Q, A = "/api/v1/queues", "/api/v1/agents"
#: Every seconds field of a queue (each a `Seconds`-like number in the document).
SECONDS = ["sl_threshold", "wrap_up", "ring_timeout", "max_wait", "rona_delay",
           "announce_every", "short_abandon", "sl_window", "fallback_after"]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "schema", "body"),
    [
        (Q, "QueueInput", {"name": "qe", "skills": {"": 1}}),
        (Q, "QueueInput", {"name": "qe", "escalation": [{"after": 5, "skills": {"": 2}}]}),
        (A, "AgentInput", {"id": "ae", "skills": {"": 3}}),
    ],
)
async def test_an_empty_skill_name_is_outside_the_schema_and_refused(
    api: Api, path: str, schema: str, body: dict[str, Any]
) -> None:
    assert schema_errors(schema, body)
    status, error = await api.post(path, body, check_request=False)
    assert status == 422, error
    one_letter = json.loads(json.dumps(body).replace('""', '"s"'))
    assert not schema_errors(schema, one_letter)
    status, created = await api.post(path, one_letter)
    assert status == 201, created


@pytest.mark.parametrize("field", SECONDS)
async def test_seconds_over_1e7_are_outside_the_schema_and_refused(api: Api, field: str) -> None:
    over = {"name": f"q-{field}".replace("_", "-"), field: MAX_SECONDS + 1}
    assert schema_errors("QueueInput", over)
    status, error = await api.post(Q, over, check_request=False)
    assert status == 422, error
    assert error["error"]["field"].endswith(field)
    at_bound = {**over, field: MAX_SECONDS}
    if field == "fallback_after":
        at_bound["fallback"] = "acd-fallback,s,1"
    assert not schema_errors("QueueInput", at_bound)
    status, created = await api.post(Q, at_bound)
    assert status == 201, created
    assert created[field] == MAX_SECONDS


async def test_an_escalation_after_over_1e7_seconds_is_refused(api: Api) -> None:
    body = {"name": "qa", "escalation": [{"after": MAX_SECONDS * 10, "skills": {}}]}
    assert schema_errors("QueueInput", body)
    assert (await api.post(Q, body, check_request=False))[0] == 422


@pytest.mark.parametrize("digits", [19, 30, 400])
@pytest.mark.parametrize(
    ("path", "schema", "template"),
    [
        (Q, "QueueInput", '{"name": "qi", "priority": %s}'),
        (Q, "QueueInput", '{"name": "qi", "wrap_up": %s}'),
        (Q, "QueueInput", '{"name": "qi", "skills": {"a": %s}}'),
        (Q, "QueueInput", '{"name": "qi", "escalation": [{"after": %s, "skills": {}}]}'),
        (A, "AgentInput", '{"id": "ai", "skills": {"a": -%s}}'),
    ],
)
async def test_an_integer_over_18_digits_is_outside_the_schema_and_refused(
    api: Api, path: str, schema: str, template: str, digits: int
) -> None:
    raw = template % ("9" * digits)
    assert schema_errors(schema, json.loads(raw))
    status, error = await api.call("POST", path, raw=raw.encode())
    assert status in (400, 422), error
    assert error["error"]["code"] in ("bad_json", "invalid"), error
    assert (await api.get(f"{path}/{json.loads(raw).get('name') or 'ai'}"))[0] == 404


async def test_a_null_pause_body_is_outside_the_schema_and_refused(api: Api) -> None:
    """The seeded schemathesis run found it: a JSON `null` is a body, not the object the
    schema asks for (only no body at all means no reason); it was taken as no body, 200."""
    assert schema_errors("PauseRequest", None)
    status, error = await api.call("POST", f"{A}/1001/pause", raw=b"null")
    assert status == 422, error
    assert error["error"]["field"] == "body"
    assert (await api.get(f"{A}/1001"))[1]["state"] == "logged_out"
    assert (await api.post(f"{A}/1001/login"))[0] == 200
    assert (await api.call("POST", f"{A}/1001/pause", raw=b""))[0] == 200
