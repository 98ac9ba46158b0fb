"""GET /api/v1/me: who the token is, for any valid token (the pages choose what to offer)."""

from __future__ import annotations

from api_support import Api, issue

from acd.service.tokens import CONFIGURED_NAME


async def test_each_role_sees_itself(api: Api) -> None:
    status, me = await api.get("/api/v1/me")
    assert (status, me) == (200, {"name": CONFIGURED_NAME, "role": "admin", "agent_id": None})
    for name, role, agent_id in (
        ("wall", "reader", None),
        ("floor", "supervisor", None),
        ("ada", "agent", "1001"),
    ):
        token = await issue(api, name, role, agent_id)
        status, me = await api.as_token(token).get("/api/v1/me")
        assert (status, me) == (200, {"name": name, "role": role, "agent_id": agent_id})


async def test_a_revoked_token_is_nobody(api: Api) -> None:
    token = await issue(api, "gone", "reader")
    status, _ = await api.delete("/api/v1/tokens/gone")
    assert status == 204
    status, error = await api.as_token(token).get("/api/v1/me")
    assert (status, error["error"]["code"]) == (401, "unknown_token")
