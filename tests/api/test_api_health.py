from __future__ import annotations

from dataclasses import dataclass

from api_support import Api

from acd.compose import Assembly


@dataclass
class ControllerLink:
    """The controller's status flags (the AMI side is an I/O edge these tests do not run)."""

    ami_connected: bool
    ready: bool


async def test_healthz_needs_no_token(api: Api) -> None:
    for path in ("/healthz", "/api/v1/healthz"):
        status, body = await api.get(path, token=None)
        assert (status, body) == (200, {"status": "ok"})


async def test_readyz_follows_the_controller(api: Api, assembly: Assembly) -> None:
    status, body = await api.get("/api/v1/readyz", token=None)
    assert (status, body["checks"]["controller"]) == (503, False)

    link = ControllerLink(ami_connected=True, ready=False)
    assembly.services.health.attach(link)
    status, body = await api.get("/readyz", token=None)
    assert (status, body["checks"]["ami_connected"]) == (503, True)
    status, body = await api.get("/api/v1/readyz", token=None)
    assert status == 503

    link.ready = True
    status, body = await api.get("/api/v1/readyz", token=None)
    assert (status, body["status"]) == (200, "ready")
    link.ami_connected = False
    status, _ = await api.get("/api/v1/readyz", token=None)
    assert status == 503


async def test_metrics_in_prometheus_text(api: Api) -> None:
    await api.post("/api/v1/agents/1001/login")
    for path in ("/metrics", "/api/v1/metrics"):
        status, text = await api.get(path, token=None)
        assert status == 200
        assert "# TYPE acd_agents gauge" in text
        assert 'acd_agents{state="available"} 1.0' in text


async def test_unknown_route_and_method_are_json_errors(api: Api) -> None:
    async with api.client.get("/api/v1/nowhere") as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"
    async with api.client.patch("/api/v1/queues") as response:
        assert response.status == 405
        assert (await response.json())["error"]["code"] == "method_not_allowed"
