"""No answer of the API is built from the request's Host header: a client chooses it freely,
so a redirect built from it would send people wherever the client likes."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from logsight.api.app import create_app
from logsight.config import Settings
from tests.support.api import ApiCaller

EVIL = "evil.example"


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


def _no_redirect_to_the_host(status: int, headers: dict[str, str]) -> None:
    location = headers.get("location", "")
    assert EVIL not in location, (status, location)
    if 300 <= status < 400:
        # A redirect may only name a path of this site.
        assert location.startswith("/") and not location.startswith("//"), location


@pytest.mark.parametrize(
    "path", ["/api/projects/", "/api/users/me/", "/api/organizations/", "/api/health/"]
)
def test_trailing_slashes_are_not_redirected_to_the_clients_host(api: ApiCaller, path: str) -> None:
    reply = api("GET", path, headers={"host": EVIL, "x-forwarded-host": EVIL})
    _no_redirect_to_the_host(reply.status, reply.headers)
    assert reply.status == 404
    assert reply.error["code"] == "not_found"


def test_trailing_slashes_through_the_asgi_app(settings: Settings) -> None:
    app = create_app(settings)

    async def get() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as c:
            return await c.get("/api/projects/", headers={"host": EVIL})

    try:
        reply = asyncio.run(get())
    finally:
        app.state.services.close()
    _no_redirect_to_the_host(reply.status_code, dict(reply.headers))
    assert reply.status_code == 404


def test_the_docs_redirect_names_a_path_only(api: ApiCaller) -> None:
    reply = api("GET", "/docs", headers={"host": EVIL})
    assert reply.status == 307
    assert reply.headers["location"] == "/api/docs"
