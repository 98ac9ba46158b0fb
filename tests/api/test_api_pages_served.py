"""The pages are part of the application `acd serve` runs, a cluster standby's included."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from api_support import make_settings

from acd.compose import assemble_standby
from acd.router.router import Router
from acd.service import HealthService
from api.pages import PAGE_HEADERS


async def _assert_pages_served(client: TestClient[Any, Any]) -> None:
    for path, marker in (("/", 'class="wallboard"'), ("/agent", 'class="agent-panel"')):
        async with client.get(path) as response:
            assert response.status == 200, path
            assert response.content_type == "text/html"
            assert marker in await response.text()
            for name, value in PAGE_HEADERS.items():
                assert response.headers[name] == value, (path, name)
    async with client.get("/static/common.js") as response:
        assert response.status == 200
        assert response.content_type == "text/javascript"


async def test_the_controllers_app_serves_the_pages_without_a_token(
    client: TestClient[Any, Any],
) -> None:
    await _assert_pages_served(client)


async def test_the_api_still_wants_a_token_beside_the_pages(
    client: TestClient[Any, Any],
) -> None:
    async with client.get("/api/v1/queues") as response:
        assert response.status == 401


@pytest.mark.parametrize("path", ["/wallboard.html", "/static/../api/pages.py", "/agent/x"])
async def test_nothing_else_is_served_at_the_root(client: TestClient[Any, Any], path: str) -> None:
    async with client.get(path) as response:
        assert response.status == 404
        assert (await response.json())["error"]["code"] == "not_found"


async def test_a_cluster_standby_serves_the_pages_too(tmp_path: Path) -> None:
    assembly = await assemble_standby(make_settings(tmp_path), Router(), health=HealthService())
    try:
        app: web.Application = assembly.app
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        try:
            await _assert_pages_served(client)
        finally:
            await client.close()
    finally:
        await assembly.close()
