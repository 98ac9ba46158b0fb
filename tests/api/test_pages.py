"""The browser pages' routes (api/pages.py): what is served, with which headers, and what not."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from api.pages import PAGE_HEADERS, WEB_DIR, add_page_routes

Client = TestClient[Any, Any]


async def _client(folder: Path = WEB_DIR) -> Client:
    app = web.Application()
    add_page_routes(app, folder)
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    test_client = await _client()
    yield test_client
    await test_client.close()


def _assert_page_headers(response: Any) -> None:
    for name, value in PAGE_HEADERS.items():
        assert response.headers[name] == value, name


@pytest.mark.parametrize(
    ("path", "content_type", "marker"),
    [
        ("/", "text/html", 'class="wallboard"'),
        ("/agent", "text/html", 'class="agent-panel"'),
        ("/static/style.css", "text/css", ""),
        ("/static/common.js", "text/javascript", "use strict"),
        ("/static/wallboard.js", "text/javascript", "use strict"),
        ("/static/agent.js", "text/javascript", "use strict"),
    ],
)
async def test_pages_and_files_are_served_with_their_type_and_headers(
    client: Client, path: str, content_type: str, marker: str
) -> None:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == content_type
    assert response.charset == "utf-8"
    _assert_page_headers(response)
    assert marker in await response.text()


async def test_no_other_site_may_frame_the_pages(client: Client) -> None:
    """A framed wallboard could have a supervisor click its Pause/Log out buttons unseen."""
    for path in ("/", "/agent"):
        response = await client.get(path)
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy, path
        assert "default-src 'self'" in policy, path


async def test_no_token_is_needed_and_none_is_asked_for(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200
    assert "WWW-Authenticate" not in response.headers


@pytest.mark.parametrize(
    "path",
    [
        "/static/nothing.js",
        "/static/..%2Fpages.py",
        "/static/%2e%2e%2fpages.py",
        "/static/..%2F..%2Fpyproject.toml",
        "/static/pages.py",
        "/static/",
        "/static/%2Fetc%2Fpasswd",
        "/static/..\\pages.py",
        "/agent/",
        "/wallboard.js",
    ],
)
async def test_unknown_names_and_traversal_are_not_found(client: Client, path: str) -> None:
    response = await client.get(path, allow_redirects=False)
    assert response.status == 404
    assert b"def add_page_routes" not in await response.read()


async def test_only_files_of_the_known_kinds_in_the_folder_itself_are_served(
    tmp_path: Path,
) -> None:
    (tmp_path / "wallboard.html").write_text("<!doctype html><p>w</p>")
    (tmp_path / "agent.html").write_text("<!doctype html><p>a</p>")
    (tmp_path / "app.js").write_text("1;")
    (tmp_path / "notes.txt").write_text("private")
    (tmp_path / ".hidden.js").write_text("2;")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "deep.js").write_text("3;")
    client = await _client(tmp_path)
    try:
        assert (await client.get("/static/app.js")).status == 200
        for name in ("notes.txt", ".hidden.js", "sub", "sub%2Fdeep.js"):
            response = await client.get(f"/static/{name}")
            assert response.status == 404, name
            _assert_page_headers(response)
        assert (await client.get("/static/sub/deep.js")).status == 404  # no route at all
    finally:
        await client.close()


async def test_a_file_the_browser_holds_is_revalidated_not_sent_again(client: Client) -> None:
    first = await client.get("/static/common.js")
    etag = first.headers["ETag"]
    again = await client.get("/static/common.js", headers={"If-None-Match": etag})
    assert again.status == 304
    _assert_page_headers(again)
    changed = await client.get("/static/common.js", headers={"If-None-Match": '"other"'})
    assert changed.status == 200


async def test_every_file_a_page_links_is_served(client: Client) -> None:
    for page in ("/", "/agent"):
        html = await (await client.get(page)).text()
        linked = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
        assert linked, page
        for path in linked:
            assert (await client.get(path)).status == 200, path


@pytest.mark.parametrize("name", ["wallboard.html", "agent.html"])
def test_pages_have_no_inline_script_or_style(name: str) -> None:
    """The CSP forbids them: an inline one would simply not run in the browser."""
    html = (WEB_DIR / name).read_text()
    assert "<style" not in html
    assert re.search(r"\sstyle=", html) is None
    assert re.search(r"\son[a-z]+=", html) is None  # onclick= and the like
    for tag in re.findall(r"<script[^>]*>", html):
        assert 'src="/static/' in tag, tag
    assert "javascript:" not in html
