"""Helpers of the API tests: settings, an OpenAPI-checking client, token issuing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient
from api_openapi_check import validate_request, validate_response

from acd.config import Settings, StorageSettings, parse_agent, parse_queue

ADMIN_TOKEN = "admin-secret-for-tests"


def make_settings(var_dir: Path) -> Settings:
    return Settings(
        storage=StorageSettings(var_dir=str(var_dir)),
        api_token=ADMIN_TOKEN,
        queues=(
            parse_queue({"name": "support", "skills": {"support": 1}, "wrap_up": 0}),
            parse_queue({"name": "sales", "skills": {"sales": 1},
                         "escalation": [{"after": 30, "skills": {}}]}),
        ),
        agents=(
            parse_agent({"id": "1001", "name": "Ada", "contact": "PJSIP/1001",
                         "skills": {"support": 5}}),
            parse_agent({"id": "1002", "name": "Bob", "contact": "PJSIP/1002",
                         "skills": {"sales": 3}}),
        ),
    )  # fmt: skip


class Api:
    """A test client that checks every exchange against the OpenAPI document."""

    def __init__(self, client: TestClient[Any, Any], token: str | None = ADMIN_TOKEN) -> None:
        self.client = client
        self.token = token

    def as_token(self, token: str | None) -> Api:
        return Api(self.client, token)

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        content_type: str = "application/json",
        check_request: bool = True,
        token: str | type[Ellipsis] | None = ...,
    ) -> tuple[int, Any]:
        token = self.token if token is ... else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        data = raw
        if body is not None:
            if check_request:
                validate_request(method, path, body)
            data = json.dumps(body).encode()
        if data is not None:
            headers["Content-Type"] = content_type
        async with self.client.request(method, path, data=data, headers=headers) as response:
            text = await response.read()
            payload: Any = None
            if response.content_type == "application/json":
                payload = json.loads(text)
            elif text:
                payload = text.decode()
            if path.startswith("/api/v1"):
                validate_response(method, path, response.status, response.content_type, payload)
            return response.status, payload

    async def get(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("GET", path, **kw)

    async def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("POST", path, body, **kw)

    async def put(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        return await self.call("PUT", path, body, **kw)

    async def delete(self, path: str, **kw: Any) -> tuple[int, Any]:
        return await self.call("DELETE", path, **kw)


async def issue(api: Api, name: str, role: str, agent_id: str | None = None) -> str:
    body: dict[str, Any] = {"name": name, "role": role}
    if agent_id is not None:
        body["agent_id"] = agent_id
    status, issued = await api.post("/api/v1/tokens", body)
    assert status == 201, issued
    token: str = issued["token"]
    return token
