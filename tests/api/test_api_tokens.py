from __future__ import annotations

from api_support import ADMIN_TOKEN, Api, issue
from sqlalchemy import select

from acd.compose import Assembly
from acd.storage import hash_secret
from acd.storage.tables import api_tokens

T = "/api/v1/tokens"


async def test_issue_list_use_revoke(api: Api) -> None:
    status, issued = await api.post(T, {"name": "wall", "role": "reader"})
    assert status == 201
    assert issued["role"] == "reader"
    assert len(issued["token"]) >= 32

    status, tokens = await api.get(T)
    assert status == 200
    assert {t["name"]: t["role"] for t in tokens} == {"ACD_API_TOKEN": "admin", "wall": "reader"}
    assert all("token" not in t for t in tokens)  # secrets are never shown again

    status, _ = await api.get("/api/v1/queues", token=issued["token"])
    assert status == 200
    status, _ = await api.delete(f"{T}/wall")
    assert status == 204
    status, _ = await api.get("/api/v1/queues", token=issued["token"])
    assert status == 401
    status, error = await api.delete(f"{T}/wall")
    assert status == 404
    assert error["error"]["code"] == "unknown_token_name"


async def test_an_issued_admin_token_is_an_admin(api: Api) -> None:
    other_admin = api.as_token(await issue(api, "ops", "admin"))
    status, _ = await other_admin.post("/api/v1/queues", {"name": "ops"})
    assert status == 201


async def test_invalid_token_requests(api: Api) -> None:
    for body, field in (
        ({"name": "x", "role": "root"}, "token.role"),
        ({"name": "", "role": "reader"}, "token.name"),
        ({"name": "x", "role": "agent"}, "token.agent_id"),
        ({"name": "x", "role": "reader", "agent_id": "1001"}, "token.agent_id"),
        ({"name": "x", "role": "reader", "secret": "mine"}, "token.secret"),
        (["x"], "token"),
    ):
        status, error = await api.post(T, body, check_request=False)
        assert status == 422, body
        assert error["error"]["field"] == field, body


async def test_duplicate_name_is_a_conflict(api: Api) -> None:
    await issue(api, "wall", "reader")
    status, error = await api.post(T, {"name": "wall", "role": "reader"})
    assert (status, error["error"]["code"]) == (409, "token_exists")


async def test_the_configured_token_is_stored_only_as_a_hash(assembly: Assembly) -> None:
    async with assembly.database.engine.connect() as conn:
        rows = (await conn.execute(select(api_tokens))).all()
    assert [row.name for row in rows] == ["ACD_API_TOKEN"]
    # A person chose it: a salted slow hash, not the fast digest (test_api_token_lifecycle).
    assert rows[0].secret_hash != hash_secret(ADMIN_TOKEN)
    assert rows[0].secret_hash.startswith("scrypt$")
    assert all(ADMIN_TOKEN not in map(str, row) for row in rows)
