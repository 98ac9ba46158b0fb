from __future__ import annotations

from api_support import Api

from acd.compose import Assembly
from acd.router.events import CallArrived

A = "/api/v1/agents"


async def test_lists_agents_with_their_state(api: Api) -> None:
    status, agents = await api.get(A)
    assert status == 200
    assert [a["id"] for a in agents] == ["1001", "1002"]
    assert agents[0]["contact"] == "PJSIP/1001"
    assert agents[0]["state"] == "logged_out"
    assert agents[0]["idle_since"] is None
    assert agents[0]["state_since"] is None  # never logged in


async def test_state_since_is_the_moment_the_agent_entered_its_state(
    api: Api, assembly: Assembly
) -> None:
    status, state = await api.post(f"{A}/1001/login")
    assert status == 200
    logged_in = state["state_since"]
    assert logged_in == assembly.engine.router.agent("1001").state_since  # type: ignore[union-attr]
    assert logged_in == state["idle_since"]
    status, state = await api.post(f"{A}/1001/pause", {"reason": "lunch"})
    assert (status, state["state"]) == (200, "paused")
    paused = state["state_since"]
    assert paused >= logged_in
    await api.post(f"{A}/1001/login")  # ignored: still paused since then
    _, agent = await api.get(f"{A}/1001")
    assert (agent["state"], agent["state_since"]) == ("paused", paused)
    _, agents = await api.get(A)
    assert agents[0]["state_since"] == paused


async def test_create_replace_delete(api: Api, assembly: Assembly) -> None:
    body = {"id": "2001", "name": "Sim", "contact": "Local/2001@acd-sim-agent",
            "skills": {"support": 2}}  # fmt: skip
    status, created = await api.post(A, body)
    assert status == 201
    assert created["state"] == "logged_out"
    assert assembly.directory.by_contact("local/2001@acd-sim-agent") is not None
    assert assembly.engine.router.agent("2001") is not None
    assert (await assembly.database.config.get_agent("2001")) is not None

    status, replaced = await api.put(f"{A}/2001", {"name": "Sim 2", "skills": {"sales": 7}})
    assert status == 200
    assert (replaced["name"], replaced["contact"], replaced["skills"]) == (
        "Sim 2",
        "",
        {"sales": 7},
    )
    view = assembly.engine.router.agent("2001")
    assert view is not None
    assert dict(view.skills) == {"sales": 7}
    assert assembly.directory.by_contact("Local/2001@acd-sim-agent") is None

    status, _ = await api.delete(f"{A}/2001")
    assert status == 204
    assert assembly.engine.router.agent("2001") is None
    assert assembly.directory.get("2001") is None
    assert (await assembly.database.config.get_agent("2001")) is None


async def test_conflicts(api: Api) -> None:
    status, error = await api.post(A, {"id": "1001"})
    assert (status, error["error"]["code"]) == (409, "agent_exists")
    status, error = await api.post(A, {"id": "1003", "contact": "pjsip/1001"})
    assert (status, error["error"]["code"]) == (409, "contact_in_use")


async def test_unknown_agent_is_404_everywhere(api: Api) -> None:
    for method, path, body in (
        ("GET", f"{A}/9", None),
        ("PUT", f"{A}/9", {"name": "x"}),
        ("DELETE", f"{A}/9", None),
        ("POST", f"{A}/9/login", None),
        ("POST", f"{A}/9/logout", None),
        ("POST", f"{A}/9/pause", {"reason": "lunch"}),
        ("POST", f"{A}/9/unpause", None),
    ):
        status, error = await api.call(method, path, body)
        assert status == 404, (method, path)
        assert error["error"]["code"] == "unknown_agent"


async def test_invalid_agents_name_the_field(api: Api) -> None:
    for body, field in (
        ({"id": ""}, "agent.id"),
        ({"id": "a b"}, "agent.id"),
        ({"id": "1", "skills": {"x": 0}}, "agent.skills.x"),
        ({"id": "1", "contact": 5}, "agent.contact"),
        ({"id": "1", "shoe_size": 44}, "agent.shoe_size"),
        ({"id": "1", "name": "n" * 201}, "agent.name"),
        ("1001", "agent"),
    ):
        status, error = await api.post(A, body, check_request=False)
        assert status == 422, body
        assert error["error"]["field"] == field, body


async def test_login_pause_unpause_logout(api: Api) -> None:
    status, state = await api.post(f"{A}/1001/login")
    assert (status, state["state"]) == (200, "available")
    assert state["idle_since"] is not None

    status, state = await api.post(f"{A}/1001/pause", {"reason": "lunch"})
    assert (status, state["state"], state["pause_reason"]) == (200, "paused", "lunch")
    status, agent = await api.get(f"{A}/1001")
    assert (agent["state"], agent["pause_reason"]) == ("paused", "lunch")

    status, state = await api.post(f"{A}/1001/unpause")
    assert (status, state["state"]) == (200, "available")
    status, state = await api.post(f"{A}/1001/pause")  # the reason is optional
    assert (status, state["pause_reason"]) == (200, "")
    status, state = await api.post(f"{A}/1001/logout")
    assert (status, state["state"]) == (200, "logged_out")


async def test_pause_when_logged_out_is_a_conflict(api: Api) -> None:
    status, error = await api.post(f"{A}/1002/pause", {"reason": "x"})
    assert (status, error["error"]["code"]) == (409, "agent_not_logged_in")


async def test_bad_pause_bodies(api: Api) -> None:
    for body, field in (({"reason": 3}, "reason"), ({"why": "x"}, "body"),
                        ({"reason": "r" * 101}, "reason")):  # fmt: skip
        status, error = await api.post(f"{A}/1001/pause", body, check_request=False)
        assert status == 422, body
        assert error["error"]["field"] == field


async def test_deleting_a_busy_agent_is_refused(api: Api, assembly: Assembly) -> None:
    await api.post(f"{A}/1001/login")
    await assembly.engine.submit(lambda now: CallArrived(now, "c1", "support"))
    status, agent = await api.get(f"{A}/1001")
    assert agent["state"] == "reserved"
    status, error = await api.delete(f"{A}/1001")
    assert (status, error["error"]["code"]) == (409, "agent_busy")
    assert assembly.directory.get("1001") is not None
    assert (await assembly.database.config.get_agent("1001")) is not None
