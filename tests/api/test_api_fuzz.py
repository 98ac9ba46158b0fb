"""Malformed requests get a 4xx with the error body, never a 500, and change nothing."""

from __future__ import annotations

import io
import json
import random
from typing import Any

from api_support import ADMIN_TOKEN, Api

WRITE_ROUTES = (
    ("POST", "/api/v1/queues"),
    ("PUT", "/api/v1/queues/support"),
    ("POST", "/api/v1/agents"),
    ("PUT", "/api/v1/agents/1001"),
    ("POST", "/api/v1/agents/1001/pause"),
    ("POST", "/api/v1/tokens"),
)

RAW_BODIES: tuple[tuple[bytes, str], ...] = (
    (b"{", "application/json"),
    (b"not json at all", "application/json"),
    (b'{"name": "x"}', "text/plain"),
    (b'{"name": "x"}', "application/x-www-form-urlencoded"),
    (b"name=x", "application/x-www-form-urlencoded"),
    (b"\xff\xfe\x00garbage", "application/json"),
    (b"[" * 100_000 + b"]" * 100_000, "application/json"),
    (b'{"priority": 1' + b"0" * 5000 + b"}", "application/json"),
    (b'{"name": "x", "wrap_up": 1e999}', "application/json"),
    (b'{"name": "x", "wrap_up": NaN}', "application/json"),
    (b'{"name": "x", "wrap_up": Infinity}', "application/json"),
    (b'{"name": "x"}{"name": "y"}', "application/json"),
    (b"x" * (1024 * 1024 + 10), "application/json"),
)

JSON_BODIES: tuple[Any, ...] = (
    None,
    [],
    [1, 2],
    "text",
    12,
    True,
    {"name": None, "id": None},
    {"name": ["x"], "id": {"a": 1}},
    {"name": "x", "id": "x", "skills": [1]},
    {"name": "x", "id": "x", "skills": {"": 1}},
    {"name": "x", "id": "x", "skills": {"a": 1.5}},
    {"name": "x", "id": "x", "skills": {"a": True}},
    {"name": "x", "id": "x", "priority": 2**62},
    {"name": "x", "id": "x", "priority": 10**17},
    {"name": "x", "id": "x", "max_wait": 1e308},
    {"name": "x", "id": "x", "escalation": [{"after": "soon"}]},
    {"name": "x", "id": "x", "escalation": {"after": 1}},
    {"name": "x", "id": "x", "escalation": [[]]},
    {"name": "x", "id": "x", "overflow": 3},
    {"name": "x", "id": "x", "join_empty": "yes"},
    {"name": "x", "id": "x", "unknown": 1},
    {"name": "x", "role": "reader", "agent_id": 5},
    {"reason": {"nested": "object"}},
    {"reason": None},
)


async def _snapshot(api: Api) -> tuple[Any, Any, Any]:
    return (
        (await api.get("/api/v1/queues"))[1],
        (await api.get("/api/v1/agents"))[1],
        (await api.get("/api/v1/tokens"))[1],
    )


async def _send(api: Api, method: str, path: str, body: bytes, content_type: str) -> int:
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}", "Content-Type": content_type}
    data = io.BytesIO(body)  # large raw bytes would warn (warnings are errors here)
    async with api.client.request(method, path, data=data, headers=headers) as response:
        assert response.status < 500, (method, path, body[:80], await response.text())
        if response.status >= 400:
            error = (await response.json())["error"]
            assert isinstance(error["code"], str)
            assert isinstance(error["message"], str)
        return response.status


async def test_malformed_bodies_never_500(api: Api) -> None:
    before = await _snapshot(api)
    for method, path in WRITE_ROUTES:
        for raw, content_type in RAW_BODIES:
            status = await _send(api, method, path, raw, content_type)
            assert status in (400, 413, 422), (path, raw[:60], content_type)
        for document in JSON_BODIES:
            if document is None and path.endswith("/pause"):
                continue  # an empty pause body is allowed (no reason)
            raw = b"" if document is None else json.dumps(document).encode()
            status = await _send(api, method, path, raw, "application/json")
            assert status in (400, 409, 422), (path, document)
    assert await _snapshot(api) == before


async def test_random_mutations_never_500(api: Api) -> None:
    rng = random.Random(4)
    atoms: list[Any] = [None, True, -1, 0, 2**40, 1.5, -1e300, "", "x" * 300, "a,b,1", [], {}]
    keys = "name id skills priority wrap_up ring_timeout max_wait overflow escalation policy"
    keys += " contact role agent_id reason after ?"
    key_list = keys.split()

    def value(depth: int) -> Any:
        roll = rng.random()
        if depth > 2 or roll < 0.6:
            return rng.choice(atoms)
        if roll < 0.8:
            return [value(depth + 1) for _ in range(rng.randint(0, 3))]
        return {rng.choice(key_list): value(depth + 1) for _ in range(rng.randint(0, 4))}

    for _ in range(300):
        method, path = rng.choice(WRITE_ROUTES)
        document = {rng.choice(key_list): value(1) for _ in range(rng.randint(0, 5))}
        await _send(api, method, path, json.dumps(document).encode(), "application/json")
    for path in ("/api/v1/queues", "/api/v1/agents", "/api/v1/calls"):
        assert (await api.get(path))[0] == 200  # still serving, every document still valid


async def test_bad_query_parameters(api: Api) -> None:
    for query, field in (
        ("from=yesterday", "from"),
        ("to=2024-13-45", "to"),
        ("from=1e400", "from"),
        ("interval=0", "interval"),
        ("interval=-5", "interval"),
        ("interval=ten", "interval"),
        ("interval=" + "9" * 30, "interval"),
        ("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "from"),
        ("from=0&to=100000000&interval=60", "interval"),
    ):
        status, error = await api.get(f"/api/v1/reports/queues?{query}")
        assert status == 422, query
        assert error["error"]["field"] == field, query
