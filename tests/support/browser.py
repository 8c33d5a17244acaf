"""A real browser for end-to-end tests of the JavaScript snippet: Debian's Chromium under
Playwright (no browser download), and a static site on its own origin to host the test pages."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Playwright, sync_playwright

from tests.support.runtime import REPO

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SDK_DIST = REPO / "sdk" / "dist"


def launch_chromium(playwright: Playwright) -> Browser:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: run `make chromium` (apt-get install chromium)")
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright, closed afterwards (a module fixture's body)."""
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def sdk_script() -> bytes:
    path = SDK_DIST / "logsight.js"
    if not path.exists():
        raise RuntimeError(f"{path} is missing: run `make sdk`")
    return path.read_bytes()


Page = tuple[str, bytes]  # content type, body


class StaticSite:
    """Serves pages from 127.0.0.1 on a port of its own: another origin than LogSight's, so the
    snippet's requests are cross-origin, CORS included. ``pages`` maps a path to a function of
    the query string, so a test can vary a page without another server."""

    def __init__(self, pages: dict[str, Callable[[str], Page]]) -> None:
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                page = site.pages.get(path)
                if page is None:
                    self.send_error(404)
                    return
                content_type, body = page(query)
                self.send_response(200)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.pages = pages
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> StaticSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def html(body: str) -> Page:
    return "text/html; charset=utf-8", body.encode()


def javascript(body: str | bytes) -> Page:
    return "text/javascript; charset=utf-8", body.encode() if isinstance(body, str) else body
