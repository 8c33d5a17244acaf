"""The dashboard's static export (web/out, built by `make web`) served by the local gateway at
`/`, beside `/api` and `/v1`, with the caching rules CloudFront applies on AWS.

Every route of the export is a file (ids travel in the query string), so the fallback is
simple: a route without its trailing slash is served its index.html, and any other unknown path
gets the export's 404 page with status 404. Hashed assets under /_next/static/ never change and
are cached for a year; HTML and every other unhashed file must be asked for again each time, so
a new build shows at once.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path
from urllib.parse import unquote

WEB_DIST = Path(__file__).resolve().parents[3] / "web" / "out"

HASHED_PREFIX = "/_next/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".svg": "image/svg+xml",
    ".woff2": "font/woff2",
    ".ico": "image/x-icon",
}

# The dashboard is never framed and runs only its own scripts' origin.
_PAGE_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
}

Response = tuple[int, dict[str, str], bytes]


def cache_control(path: str) -> str:
    return IMMUTABLE if path.startswith(HASHED_PREFIX) else REVALIDATE


def _content_type(file: Path) -> str:
    return (
        _TYPES.get(file.suffix) or mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    )


def _file(root: Path, path: str) -> Path | None:
    """The export's file for a URL path, never one outside the export."""
    relative = unquote(path).lstrip("/")
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root):
        return None
    if candidate.is_dir():
        candidate = candidate / "index.html"
    return candidate if candidate.is_file() else None


def serve(path: str, root: Path = WEB_DIST) -> Response:
    root = root.resolve()
    if not (root / "index.html").is_file():
        body = (
            b"<!doctype html><title>LogSight</title><p>The dashboard is not built: run "
            b"<code>make local</code> (or <code>make web</code>). The API is at "
            b'<a href="/api/docs">/api/docs</a>.</p>'
        )
        return 503, {"content-type": _TYPES[".html"], "cache-control": "no-store"}, body
    found = _file(root, path)
    status = 200
    if found is None:
        status, found = 404, root / "404.html"
        path = "/404.html"
    headers = {"content-type": _content_type(found), "cache-control": cache_control(path)}
    if found.suffix == ".html":
        headers.update(_PAGE_HEADERS)
    return status, headers, found.read_bytes()


def built(root: Path = WEB_DIST) -> bool:
    return (root / "index.html").is_file()
