"""A restart on the same SQLite file keeps what the API changed (and does not re-seed)."""

from __future__ import annotations

from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, issue, make_settings

from acd.compose import assemble


async def _run(var_dir: Path, actions: object) -> None:
    assembly = await assemble(make_settings(var_dir))
    client = TestClient(TestServer(assembly.app))
    await client.start_server()
    try:
        await actions(Api(client))  # type: ignore[operator]
    finally:
        await client.close()
        await assembly.close()


async def test_api_changes_survive_a_restart(tmp_path: Path) -> None:
    tokens: dict[str, str] = {}

    async def change(api: Api) -> None:
        assert (await api.post("/api/v1/queues", {"name": "billing", "wrap_up": 7}))[0] == 201
        assert (await api.put("/api/v1/queues/support", {"wrap_up": 11}))[0] == 200
        assert (await api.delete("/api/v1/queues/sales"))[0] == 204
        assert (await api.post("/api/v1/agents", {"id": "3001", "skills": {"x": 2}}))[0] == 201
        assert (await api.delete("/api/v1/agents/1002"))[0] == 204
        tokens["reader"] = await issue(api, "wall", "reader")

    async def check(api: Api) -> None:
        status, queues = await api.get("/api/v1/queues")
        assert {q["name"]: q["wrap_up"] for q in queues} == {"billing": 7.0, "support": 11.0}
        status, agents = await api.get("/api/v1/agents")
        assert [a["id"] for a in agents] == ["1001", "3001"]  # 1002 stays deleted
        assert agents[1]["skills"] == {"x": 2}
        status, _ = await api.get("/api/v1/queues", token=tokens["reader"])
        assert status == 200
        status, state = await api.post("/api/v1/agents/3001/login")  # restored into the router
        assert (status, state["state"]) == (200, "available")

    await _run(tmp_path, change)
    await _run(tmp_path, check)
