"""The local gateway serves the dashboard's static export at / beside the API: hashed assets
cached for a year, HTML revalidated every time, unknown paths the export's 404 page, nothing
outside the export."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from logsight.local.gateway import Gateway, Route


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "out"
    (root / "live").mkdir(parents=True)
    (root / "_next" / "static" / "chunks").mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Overview</title>")
    (root / "live" / "index.html").write_text("<!doctype html><title>Live</title>")
    (root / "404.html").write_text("<!doctype html><title>Not found</title>")
    (root / "_next" / "static" / "chunks" / "app-3f2a.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("not for you")
    return root


def get(
    site: Path, path: str, method: str = "GET", routes: list[Route] | None = None
) -> httpx.Response:
    gateway = Gateway(routes or [], workers=1, site=site)

    async def call() -> httpx.Response:
        transport = httpx.ASGITransport(app=gateway)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await client.request(method, path)

    return asyncio.run(call())


def test_pages_are_served_and_never_cached(site: Path) -> None:
    for path, title in [
        ("/", "Overview"),
        ("/live/", "Live"),
        ("/live", "Live"),
        ("/live/?project=x", "Live"),
    ]:
        reply = get(site, path)
        assert reply.status_code == 200, path
        assert f"<title>{title}</title>" in reply.text
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert reply.headers["cache-control"] == "no-cache"
        assert reply.headers["x-frame-options"] == "DENY"


def test_hashed_assets_are_cached_for_a_year(site: Path) -> None:
    reply = get(site, "/_next/static/chunks/app-3f2a.js")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "text/javascript; charset=utf-8"
    assert reply.headers["cache-control"] == "public, max-age=31536000, immutable"


def test_unknown_paths_get_the_404_page_and_nothing_escapes_the_export(site: Path) -> None:
    for path in [
        "/nope/",
        "/issue/123",
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/_next/static/x.js",
    ]:
        reply = get(site, path)
        assert reply.status_code == 404, path
        assert "<title>Not found</title>" in reply.text
        assert reply.headers["cache-control"] == "no-cache"


def test_writes_to_unknown_paths_are_a_json_404(site: Path) -> None:
    reply = get(site, "/anything", method="POST")
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "not_found"


def test_a_missing_build_says_how_to_make_it(tmp_path: Path) -> None:
    reply = get(tmp_path / "absent", "/")
    assert reply.status_code == 503
    assert "make local" in reply.text
