"""Roles: who may call what. Every protected route refuses a missing or unknown token."""

from __future__ import annotations

from api_support import Api, issue

from api.app import PREFIX, PUBLIC_PATHS, ROUTES


def _concrete(path: str) -> str:
    return PREFIX + path.replace("{name}", "support").replace("{agent_id}", "1001").replace(
        "{call_id}", "c1"
    )


async def test_every_protected_route_needs_a_known_token(api: Api) -> None:
    protected = [(m, p) for m, p, _ in ROUTES if p not in PUBLIC_PATHS]
    assert len(protected) > 20
    for method, path in protected:
        for token in (None, "not-a-token"):
            status, error = await api.call(method, _concrete(path), token=token)
            assert status == 401, (method, path, token)
            assert error["error"]["code"] in ("missing_token", "unknown_token")


async def test_a_malformed_authorization_header_is_401(api: Api) -> None:
    async with api.client.get(f"{PREFIX}/queues", headers={"Authorization": "Basic eDp5"}) as r:
        assert r.status == 401
        assert r.headers["WWW-Authenticate"] == "Bearer"


async def test_reader_reads_but_changes_nothing(api: Api) -> None:
    reader = api.as_token(await issue(api, "wallboard", "reader"))
    for path in ("/queues", "/queues/support", "/agents", "/agents/1001", "/calls",
                 "/stats/queues", "/reports/queues"):  # fmt: skip
        status, _ = await reader.get(PREFIX + path)
        assert status == 200, path
    for method, path, body in (
        ("POST", "/queues", {"name": "x"}),
        ("PUT", "/queues/support", {"wrap_up": 1}),
        ("DELETE", "/queues/support", None),
        ("POST", "/agents", {"id": "x"}),
        ("PUT", "/agents/1001", {"name": "x"}),
        ("DELETE", "/agents/1001", None),
        ("POST", "/agents/1001/login", None),
        ("POST", "/agents/1001/pause", {"reason": "x"}),
        ("GET", "/tokens", None),
        ("POST", "/tokens", {"name": "x", "role": "admin"}),
    ):
        status, error = await reader.call(method, PREFIX + path, body)
        assert status == 403, (method, path)
        assert error["error"]["code"] == "forbidden"


async def test_supervisor_changes_any_agent_state_but_not_configuration(api: Api) -> None:
    supervisor = api.as_token(await issue(api, "floor", "supervisor"))
    for agent_id in ("1001", "1002"):
        status, state = await supervisor.post(f"{PREFIX}/agents/{agent_id}/login")
        assert (status, state["state"]) == (200, "available")
    status, _ = await supervisor.put(f"{PREFIX}/agents/1001", {"name": "x"})
    assert status == 403
    status, _ = await supervisor.get(f"{PREFIX}/tokens")
    assert status == 403


async def test_agent_token_changes_only_its_own_state(api: Api) -> None:
    ada = api.as_token(await issue(api, "ada-phone", "agent", "1001"))
    status, state = await ada.post(f"{PREFIX}/agents/1001/login")
    assert (status, state["state"]) == (200, "available")
    status, state = await ada.post(f"{PREFIX}/agents/1001/pause", {"reason": "coffee"})
    assert (status, state["state"]) == (200, "paused")
    for action in ("login", "logout", "pause", "unpause"):
        status, error = await ada.post(f"{PREFIX}/agents/1002/{action}")
        assert status == 403, action
        assert error["error"]["code"] == "forbidden"
    status, agent = await api.get(f"{PREFIX}/agents/1002")
    assert agent["state"] == "logged_out"
    status, _ = await ada.get(f"{PREFIX}/agents/1002")  # reading others is fine
    assert status == 200
    status, _ = await ada.post(f"{PREFIX}/agents", {"id": "x"})
    assert status == 403
