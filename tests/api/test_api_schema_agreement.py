"""Where the OpenAPI document and the server disagreed, one targeted test each, so that a
regression names itself (test_schema_fuzz.py finds them by generation). Each request is checked
against the document first: `schema_allows` (the document's verdict) must be the server's.

Allowed by the schema but refused before: an empty `from=`, a level `10.0` (JSON's 10.0 is
the number 10), an interval of 1e8 seconds or of 30 digits, escalation steps out of order,
`agent_id` on a reader token, a PUT naming another queue or agent (now 409: the body
conflicts with the resource it is sent to, not a malformed document), an agent token for an
unknown agent (404, as an unknown agent is everywhere). Outside the schema, so refused:
an integer agent `id`, `skills: null`, an escalation step's `skills: null`.
"""

from __future__ import annotations

from typing import Any

import pytest
from api_openapi_check import schema_errors
from api_support import Api

Q, A, T = "/api/v1/queues", "/api/v1/agents", "/api/v1/tokens"


def _allowed(schema: str, body: Any) -> bool:
    return not schema_errors(schema, body)


def _query_allowed(name: str, value: str) -> bool:
    """The reports operation's parameter `name` as the document declares it."""
    from jsonschema import Draft202012Validator

    from api.openapi import openapi_document

    parameters = openapi_document()["paths"]["/reports/queues"]["get"]["parameters"]
    schema = next(p["schema"] for p in parameters if p["name"] == name)
    instance: Any = value
    if schema.get("type") == "integer":
        if not value.isdigit():
            return False
        instance = int(value)
    return Draft202012Validator(schema).is_valid(instance)


@pytest.mark.parametrize(
    ("query", "name", "value"),
    [
        ("from=", "from", ""),
        ("to=", "to", ""),
        ("from=1e5", "from", "1e5"),
        ("from=-1", "from", "-1"),
        ("from=2024-13-01", "from", "2024-13-01"),
        ("interval=100000000", "interval", "100000000"),
        ("interval=" + "9" * 30, "interval", "9" * 30),
        ("interval=59", "interval", "59"),
    ],
)
async def test_report_parameters_the_schema_forbids_are_refused(
    api: Api, query: str, name: str, value: str
) -> None:
    assert not _query_allowed(name, value), query
    status, error = await api.get(f"/api/v1/reports/queues?{query}")
    assert status == 422, query
    assert error["error"]["field"] == name


@pytest.mark.parametrize(
    ("query", "values"),
    [
        ("from=1700000000&to=1700003600&interval=60", {"from": "1700000000", "to": "1700003600"}),
        ("from=2024-01-01T00:00:00Z&to=2024-01-02", {"from": "2024-01-01T00:00:00Z"}),
        ("from=2024-01-01T10:00:00.5-01:00&to=2024-01-02", {"from": "2024-01-01T10:00:00.5-01:00"}),
        ("interval=2678400", {"interval": "2678400"}),
    ],
)
async def test_report_parameters_the_schema_allows_are_accepted(
    api: Api, query: str, values: dict[str, str]
) -> None:
    for name, value in values.items():
        assert _query_allowed(name, value), (name, value)
    status, _ = await api.get(f"/api/v1/reports/queues?{query}")
    assert status == 200, query


async def test_force_takes_what_the_schema_lists(api: Api) -> None:
    from api.openapi import openapi_document

    parameters = openapi_document()["paths"]["/queues/{name}"]["delete"]["parameters"]
    listed = next(p for p in parameters if p["name"] == "force")["schema"]["enum"]
    for value in ("TRUE", "Yes", "on"):
        assert value not in listed
        status, _ = await api.delete(f"{Q}/support?force={value}")
        assert status == 422, value
    assert "false" in listed
    assert (await api.delete(f"{Q}/support?force=false"))[0] == 204


async def test_a_whole_number_written_with_a_point_is_that_number(api: Api) -> None:
    queue = {"name": "q10", "skills": {"a": 10.0}, "priority": 3.0,
             "escalation": [{"after": 5, "skills": {"b": 2.0}}]}  # fmt: skip
    assert _allowed("QueueInput", queue)
    status, created = await api.post(Q, queue)
    assert status == 201, created
    assert (created["skills"], created["priority"]) == ({"a": 10}, 3)
    assert created["escalation"][0]["skills"] == {"b": 2}
    status, agent = await api.put(f"{A}/1001", {"skills": {"support": 5.0}})
    assert (status, agent["skills"]) == (200, {"support": 5})
    for bad in ({"a": 10.5}, {"a": 11.0}):
        status, _ = await api.put(f"{Q}/q10", {"skills": bad}, check_request=False)
        assert status == 422, bad


async def test_escalation_steps_are_put_in_order_of_after(api: Api) -> None:
    steps = [{"after": 60, "skills": {"x": 1}}, {"after": 10}, {"after": 60, "skills": {"y": 1}}]
    queue = {"name": "esc", "escalation": steps}
    assert _allowed("QueueInput", queue)
    status, created = await api.post(Q, queue)
    assert status == 201, created
    assert [(s["after"], s["skills"]) for s in created["escalation"]] == [
        (10, {}), (60, {"x": 1}), (60, {"y": 1})
    ]  # fmt: skip


async def test_the_schema_states_which_roles_name_an_agent(api: Api) -> None:
    reader = {"name": "r", "role": "reader", "agent_id": "1001"}
    agent_without = {"name": "a", "role": "agent"}
    assert not _allowed("TokenInput", reader)
    assert not _allowed("TokenInput", agent_without)
    for body in (reader, agent_without):
        status, error = await api.post(T, body, check_request=False)
        assert (status, error["error"]["field"]) == (422, "token.agent_id")
    unknown = {"name": "u", "role": "agent", "agent_id": "9999"}
    assert _allowed("TokenInput", unknown)
    status, error = await api.post(T, unknown)
    assert (status, error["error"]["code"]) == (404, "unknown_agent")
    assert (await api.post(T, {"name": "n", "role": "reader", "agent_id": None}))[0] == 201


async def test_a_put_naming_another_resource_is_a_conflict(api: Api) -> None:
    body = {"name": "sales"}
    assert _allowed("QueueReplacement", body)
    status, error = await api.put(f"{Q}/support", body)
    assert (status, error["error"]["code"]) == (409, "rename_refused")
    status, error = await api.put(f"{A}/1001", {"id": "1002"})
    assert (status, error["error"]["code"]) == (409, "rename_refused")
    assert (await api.get(f"{Q}/support"))[1]["name"] == "support"


@pytest.mark.parametrize(
    ("path", "schema", "body"),
    [
        (A, "AgentInput", {"id": 1003}),
        (A, "AgentInput", {"id": "1003", "skills": None}),
        (Q, "QueueInput", {"name": "qn", "skills": None}),
        (Q, "QueueInput", {"name": "qn", "escalation": [{"after": 1, "skills": None}]}),
        (Q, "QueueInput", {"name": "qn", "escalation": None}),
    ],
)
async def test_documents_outside_the_schema_are_refused(
    api: Api, path: str, schema: str, body: dict[str, Any]
) -> None:
    assert not _allowed(schema, body)
    status, _ = await api.post(path, body, check_request=False)
    assert status == 422, body


def test_the_instant_pattern_admits_exactly_the_days_there_are() -> None:
    """The schemathesis run found 2605-02-30: allowed by the pattern, refused by the parser.
    The pattern now knows month lengths and leap years, so the two cannot differ on a date."""
    import calendar
    import re

    from api.bodies import INSTANT_PATTERN

    pattern = re.compile(INSTANT_PATTERN)
    for year in range(1970, 3000):
        for month in range(1, 13):
            days = calendar.monthrange(year, month)[1]
            for day in range(1, 32):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                assert (pattern.fullmatch(text) is not None) == (day <= days), text


async def test_a_day_the_month_does_not_have_is_refused_as_the_schema_says(api: Api) -> None:
    for day in ("2605-02-30", "2100-02-29", "2024-04-31"):
        assert not _query_allowed("to", day), day
        status, error = await api.get(f"/api/v1/reports/queues?to={day}")
        assert (status, error["error"]["field"]) == (422, "to")
    assert _query_allowed("to", "2024-02-29")
    assert (await api.get("/api/v1/reports/queues?to=2024-02-29"))[0] == 200
