"""A minified bundle in Chromium with the LogSight snippet reporting a release: its error is
resolved through the source map uploaded with `logsight sourcemaps upload`'s code, against the
real local runtime."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from logsight.sourcemap_upload import upload_directory
from tests.conftest import private_local_runtime
from tests.support.api import make_member
from tests.support.browser import StaticSite, html, javascript, launch_chromium
from tests.support.runtime import LocalLogSight

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]
DIST = Path(__file__).resolve().parents[1] / "fixtures" / "sourcemaps" / "dist"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    with private_local_runtime("logsight_browser_maps") as local:
        yield local


def error_event(runtime: LocalLogSight, token: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    with runtime.client() as client:
        while True:
            reply = client.get(
                f"/api/projects/{runtime.project_id}/events",
                params={"type": "error"},
                headers={"authorization": f"Bearer {token}"},
            )
            assert reply.status_code == 200, reply.text
            if reply.json()["data"]:
                event_id = reply.json()["data"][0]["id"]
                detail = client.get(
                    f"/api/projects/{runtime.project_id}/events/{event_id}",
                    headers={"authorization": f"Bearer {token}"},
                )
                found: dict[str, Any] = detail.json()
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"no error event:\n{runtime.log()}")
            time.sleep(0.3)


def test_the_snippets_error_from_a_minified_bundle_resolves(runtime: LocalLogSight) -> None:
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        org = conn.execute(
            "SELECT organization_id FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
        assert org is not None
        member = make_member(conn, org[0], "member")
    with httpx.Client(
        base_url=runtime.url, headers={"authorization": f"Bearer {member.token}"}
    ) as client:
        done = upload_directory(
            client, str(runtime.project_id), DIST, release="shop@1", url_prefix="~/assets"
        )
    assert [item.status for item in done] == [201, 201]

    pages = {
        "/shop.html": lambda _q: html(
            "<!doctype html><title>Shop</title>"
            f'<script src="{runtime.url}/sdk/logsight.js" data-key="{runtime.key}"'
            ' data-release="shop@1"></script><script src="/assets/app.min.js"></script>'
        ),
        "/assets/app.min.js": lambda _q: javascript((DIST / "app.min.js").read_bytes()),
    }
    with StaticSite(pages) as site, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page()
            page.goto(f"{site.url}/shop.html")
            page.wait_for_function("window.logsight !== undefined")
            page.evaluate("setTimeout(() => submitOrder({total: 10, code: 'WINTER'}), 0)")
            page.wait_for_timeout(100)
            page.evaluate("logsight.flush()")
        finally:
            browser.close()

    event = error_event(runtime, member.token)
    frames = event["error"]["stacktrace"]["frames"]
    resolved = [f for f in frames if f.get("sourcemap", {}).get("status") == "resolved"]
    assert resolved, frames
    names = {(f["filename"], f["lineno"], f.get("function")) for f in resolved}
    assert ("src/checkout.js", 5, "applyDiscount") in names, frames
    assert ("src/app.js", 4, "submitOrder") in names, frames
    assert all(f["raw"]["filename"].endswith("/assets/app.min.js") for f in resolved)
