"""API tests run the real wiring (`acd.compose.assemble`): real Router, Engine and SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from api_support import Api, make_settings

from acd.compose import Assembly, assemble
from acd.config import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


@pytest.fixture
async def assembly(settings: Settings) -> AsyncIterator[Assembly]:
    built = await assemble(settings)
    yield built
    await built.close()


@pytest.fixture
async def client(assembly: Assembly) -> AsyncIterator[TestClient[Any, Any]]:
    test_client: TestClient[Any, Any] = TestClient(TestServer(assembly.app))
    await test_client.start_server()
    yield test_client
    await test_client.close()


@pytest.fixture
def api(client: TestClient[Any, Any]) -> Api:
    return Api(client)
