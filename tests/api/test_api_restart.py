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


async def test_agent_states_survive_a_restart_and_reach_the_records(tmp_path: Path) -> None:
    """`acd serve`'s own wiring: logged-in and paused agents come back as they were, with
    their idle_since, and the queue_log sees them come back (ADDMEMBER, PAUSE)."""
    before: dict[str, dict[str, object]] = {}

    async def change(api: Api) -> None:
        for agent in ("1001", "1002"):
            assert (await api.post(f"/api/v1/agents/{agent}/login"))[0] == 200
        status, paused = await api.post("/api/v1/agents/1002/pause", {"reason": "lunch"})
        assert (status, paused["state"]) == (200, "paused")
        _, agents = await api.get("/api/v1/agents")
        before.update({a["id"]: a for a in agents})

    async def check(api: Api) -> None:
        _, agents = await api.get("/api/v1/agents")
        after = {a["id"]: a for a in agents}
        for agent in ("1001", "1002"):
            for key in ("state", "pause_reason", "idle_since", "state_since"):
                assert after[agent][key] == before[agent][key], (agent, key)
        assert after["1001"]["state"] == "available"
        assert after["1002"]["pause_reason"] == "lunch"

    await _run(tmp_path, change)
    await _run(tmp_path, check)
    lines = (tmp_path / "queue_log").read_text().splitlines()
    # First run: ADDMEMBER x2 and PAUSE; the restart: ADDMEMBER x2 and PAUSE again, from the
    # restore going through the engine like any state change.
    assert sum("|ADDMEMBER|" in line for line in lines) == 4
    assert sum("|PAUSE|lunch" in line for line in lines) == 2
