"""The interactive docs work offline: the page and every file it loads come from LogSight."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
import uvicorn
from playwright.sync_api import Route, sync_playwright

from logsight.api.app import create_app
from logsight.config import Settings
from tests.support.api import ApiCaller
from tests.support.browser import launch_chromium


class References(HTMLParser):
    """Every URL the page makes the browser fetch: scripts, style sheets, icons, images."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            url = values.get(name)
            if url and (tag != "a"):
                self.urls.append(url)


def test_the_docs_page_and_its_files_are_served_by_the_app() -> None:
    # No database, no network: the ASGI app through Mangum, as on Lambda.
    api = ApiCaller(Settings())
    page = api("GET", "/api/docs")
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    refs = References()
    refs.feed(page.body)
    fetched = [u for u in refs.urls if not u.startswith("data:")]
    assert {urlsplit(u).path for u in fetched} >= {
        "/api/docs/assets/swagger-ui-bundle.js",
        "/api/docs/assets/swagger-ui.css",
    }
    # The script names the OpenAPI document by path, on the same origin.
    assert "url: '/api/openapi.json'" in page.body
    assert "http://" not in page.body and "https://" not in page.body.replace(
        "https://swagger.io", ""
    )
    for url in fetched:
        parts = urlsplit(url)
        assert not parts.scheme and not parts.netloc, url
        reply = api("GET", parts.path)
        assert reply.status == 200, url
        assert len(reply.body) > 100_000, url  # the real bundle, not a stub
        assert "max-age" in reply.headers["cache-control"]
    bundle = api("GET", "/api/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript")
    assert "SwaggerUIBundle" in bundle.body
    assert api("GET", "/api/docs/assets/other.js").status == 404


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    """The app under uvicorn on a loopback port of its own (the docs need no database)."""
    config = uvicorn.Config(create_app(Settings()), host="127.0.0.1", port=0, log_level="error")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_the_docs_render_in_a_browser_that_cannot_reach_the_internet(served: str) -> None:
    elsewhere: list[str] = []

    def only_loopback(route: Route) -> None:
        if route.request.url.startswith(served):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.route("**/*", only_loopback)
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(f"{served}/docs")
            # Swagger UI rendered the OpenAPI document: its title and an operation.
            page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert "LogSight API" in page.inner_text(".swagger-ui .info .title")
            page.wait_for_selector(
                '.opblock-summary-path[data-path="/api/projects/{project_id}/dashboards"]',
                state="attached",
                timeout=30_000,
            )
        finally:
            browser.close()
    assert elsewhere == []
    assert errors == []
