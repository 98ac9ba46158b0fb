"""The browser pages: the wallboard at `/`, the agent panel at `/agent`, their files under
`/static/<name>`.

The pages hold no data, so they are served without a token; the scripts ask the API for
everything with the token the user gives them. The files of `api/web/` are read once, when the
routes are added: a name is looked up in that table, so nothing outside the folder (and
nothing added to it later) can be served, and `..` or a slash in a name is simply not found.

Every page response carries the same headers: a Content-Security-Policy that allows scripts,
styles and connections from this origin only (no inline script or style, none from a CDN)
and no framing by another site (its supervisor buttons could be clicked unseen),
`nosniff`, `no-cache` (the browser revalidates each time, so an upgrade shows at once) and no
referrer (a kiosk URL's fragment never leaves the browser anyway, but the path should not
either).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

WEB_DIR = Path(__file__).with_name("web")

PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
    "Referrer-Policy": "no-referrer",
}

#: The only kinds of file served; anything else in the folder is left out.
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_TEXT_TYPES = frozenset({"text/html", "text/javascript", "text/css", "image/svg+xml"})


@dataclass(frozen=True, slots=True)
class WebFile:
    body: bytes
    content_type: str
    etag: str

    def response(self, request: web.Request) -> web.Response:
        headers = {**PAGE_HEADERS, "ETag": self.etag}
        if self.etag in _etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        charset = "utf-8" if self.content_type in _TEXT_TYPES else None
        return web.Response(
            body=self.body, content_type=self.content_type, charset=charset, headers=headers
        )


def _etags(header: str) -> set[str]:
    return {tag.strip() for tag in header.split(",") if tag.strip()}


def load_web_files(folder: Path = WEB_DIR) -> dict[str, WebFile]:
    """Every servable file directly in `folder`, by name."""
    files: dict[str, WebFile] = {}
    for path in sorted(folder.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file() or path.name.startswith("."):
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:20] + '"'
        files[path.name] = WebFile(body, content_type, etag)
    return files


def add_page_routes(app: web.Application, folder: Path = WEB_DIR) -> None:
    """GET / (wallboard), GET /agent (agent panel), GET /static/{name} (css, js, images)."""
    files = load_web_files(folder)
    pages = {"/": files["wallboard.html"], "/agent": files["agent.html"]}

    async def page(request: web.Request) -> web.Response:
        return pages[request.path].response(request)

    async def static(request: web.Request) -> web.Response:
        found = files.get(request.match_info["name"])
        if found is None:
            response = web.json_response(
                {"error": {"code": "not_found", "message": "no such file"}}, status=404
            )
            response.headers.update(PAGE_HEADERS)
            return response
        return found.response(request)

    for path in pages:
        app.router.add_get(path, page)
    app.router.add_get("/static/{name}", static)
