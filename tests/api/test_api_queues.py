from __future__ import annotations

from typing import Any

from api_support import Api

from acd.compose import Assembly
from acd.router.events import CallArrived

Q = "/api/v1/queues"


async def test_lists_the_seeded_queues(api: Api) -> None:
    status, queues = await api.get(Q)
    assert status == 200
    assert [q["name"] for q in queues] == ["sales", "support"]
    assert queues[0]["escalation"] == [{"after": 30.0, "skills": {}}]


async def test_create_get_replace_delete(api: Api, assembly: Assembly) -> None:
    body = {"name": "billing", "skills": {"billing": 2}, "priority": 3, "max_wait": None}
    status, created = await api.post(Q, body)
    assert status == 201
    assert created["skills"] == {"billing": 2}
    assert created["max_wait"] is None
    assert assembly.engine.router.queue("billing") is not None
    assert (await assembly.database.config.get_queue("billing")) is not None

    status, got = await api.get(f"{Q}/billing")
    assert (status, got) == (200, created)

    status, replaced = await api.put(f"{Q}/billing", {"skills": {"billing": 4}, "wrap_up": 9})
    assert status == 200
    assert replaced["skills"] == {"billing": 4}
    assert replaced["priority"] == 0  # omitted keys take their defaults: PUT replaces
    router_queue = assembly.engine.router.queue("billing")
    assert router_queue is not None
    assert router_queue.wrap_up == 9

    status, _ = await api.delete(f"{Q}/billing")
    assert status == 204
    assert assembly.engine.router.queue("billing") is None
    assert (await assembly.database.config.get_queue("billing")) is None
    status, error = await api.get(f"{Q}/billing")
    assert status == 404
    assert error["error"]["code"] == "unknown_queue"


async def test_duplicate_is_a_conflict(api: Api) -> None:
    status, error = await api.post(Q, {"name": "support"})
    assert status == 409
    assert error["error"]["code"] == "queue_exists"


async def test_unknown_queue_is_404_for_every_verb(api: Api) -> None:
    for method in ("GET", "PUT", "DELETE"):
        body = {"wrap_up": 1} if method == "PUT" else None
        status, error = await api.call(method, f"{Q}/nope", body)
        assert status == 404, method
        assert error["error"]["code"] == "unknown_queue"


async def test_invalid_documents_name_the_field(api: Api) -> None:
    cases: list[tuple[Any, str]] = [
        ({"name": "bad name!"}, "queue.name"),
        ({"name": "x", "skills": {"a": 11}}, "queue.skills.a"),
        ({"name": "x", "priority": "high"}, "queue.priority"),
        ({"name": "x", "ring_timeout": 0}, "queue.ring_timeout"),
        ({"name": "x", "wrap_up": -1}, "queue.wrap_up"),
        ({"name": "x", "policy": "random"}, "queue.policy"),
        ({"name": "x", "colour": "blue"}, "queue.colour"),
        ({"name": "x", "priority": 10**12}, "queue.priority"),
        ({"name": "x", "max_wait": 1e300}, "queue.max_wait"),
        ({"name": "x" * 65}, "queue.name"),
        ([{"name": "x"}], "queue"),
    ]
    for body, field in cases:
        status, error = await api.post(Q, body, check_request=False)
        assert status == 422, body
        assert error["error"]["field"] == field, body
    status, queues = await api.get(Q)
    assert [q["name"] for q in queues] == ["sales", "support"]  # nothing was created


async def test_put_cannot_rename(api: Api) -> None:
    status, error = await api.put(f"{Q}/support", {"name": "other"})
    assert (status, error["error"]["code"]) == (409, "rename_refused")


async def test_delete_with_live_calls_needs_force(api: Api, assembly: Assembly) -> None:
    decisions = await assembly.engine.submit(lambda now: CallArrived(now, "c1", "support"))
    assert decisions == []  # nobody logged in: the call waits
    status, error = await api.delete(f"{Q}/support")
    assert status == 409
    assert error["error"]["code"] == "queue_busy"
    assert assembly.engine.router.call("c1") is not None

    status, error = await api.delete(f"{Q}/support?force=maybe")
    assert status == 422
    assert error["error"]["field"] == "force"

    status, _ = await api.delete(f"{Q}/support?force=true")
    assert status == 204
    assert assembly.engine.router.call("c1") is None  # left with reason queue_removed
    assert assembly.engine.router.queue("support") is None
