"""The JavaScript snippet in a real browser (Chromium) against the real local runtime.

Pages come from a static site on another origin than LogSight, so every request the snippet
makes is cross-origin: the JSON POST is preflighted, the beacon is a simple request.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Request
from psycopg.rows import dict_row

from tests.conftest import RUNTIME_ENV, create_database, create_vhost, delete_vhost, drop_database
from tests.support.browser import StaticSite, html, javascript, chromium, sdk_script
from tests.support.runtime import LocalLogSight

pytestmark = [pytest.mark.slow, pytest.mark.timeout(180)]

APP_JS = """
function chargeCard(amount) {
  throw new TypeError("card declined for " + amount);
}
function checkout() {
  chargeCard(42);
}
function loadCart() {
  return Promise.reject(new RangeError("cart expired"));
}
// Counts what reached the page after the snippet saw it (the snippet listens first, capturing).
window.seen = 0;
addEventListener("error", () => window.seen++);
addEventListener("unhandledrejection", () => window.seen++);
"""


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    database, vhost = create_database("logsight_browser"), create_vhost()
    local = LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV)
    try:
        yield local.start()
    finally:
        local.cleanup()
        delete_vhost(vhost)
        drop_database(database)


@pytest.fixture(scope="module")
def site(runtime: LocalLogSight) -> Iterator[StaticSite]:
    def shop(_query: str) -> tuple[str, bytes]:
        # The snippet as a customer would include it: from LogSight itself, host implied.
        return html(
            "<!doctype html><title>Shop</title>"
            f'<script src="{runtime.url}/sdk/logsight.js" data-key="{runtime.key}"'
            ' data-release="shop@1.0.0" data-environment="test"></script>'
            '<script src="/app.js"></script><button id="buy" class="btn primary">Buy</button>'
        )

    def offline(_query: str) -> tuple[str, bytes]:
        # Served by the site (LogSight may be down), pointed at LogSight with data-host.
        return html(
            "<!doctype html><title>Offline</title>"
            f'<script src="/logsight.js" data-key="{runtime.key}" data-host="{runtime.url}">'
            "</script>"
        )

    def module(_query: str) -> tuple[str, bytes]:
        # The ES module build, imported across origins (module scripts are fetched with CORS).
        return html(
            '<!doctype html><title>Module</title><script type="module">'
            f'import {{ LogSight }} from "{runtime.url}/sdk/logsight.mjs";'
            f'window.logsight = new LogSight("{runtime.key}", {{ host: "{runtime.url}",'
            ' autoPageviews: false, environment: "esm" });'
            "</script>"
        )

    pages = {
        "/shop.html": shop,
        "/module.html": module,
        "/offline.html": offline,
        "/app.js": lambda _q: javascript(APP_JS),
        "/logsight.js": lambda _q: javascript(sdk_script()),
        "/bye.html": lambda _q: html("<!doctype html><title>Bye</title><p>bye</p>"),
    }
    with StaticSite(pages) as static:
        yield static


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    try:
        yield context
    finally:
        context.close()


def rows(runtime: LocalLogSight, sql: str, *params: Any) -> list[dict[str, Any]]:
    with (
        psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn,
        conn.cursor(row_factory=dict_row) as cur,
    ):
        return cur.execute(sql, params).fetchall()


def wait_for_rows(
    runtime: LocalLogSight, count: int, sql: str, *params: Any, timeout: float = 30
) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = rows(runtime, sql, *params)
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{len(found)} of {count} rows for {sql}:\n{runtime.log()}")
        time.sleep(0.2)


def ingest_requests(context: BrowserContext) -> list[Request]:
    # Context-wide: a beacon leaves as its page goes away, and may not be reported by the page.
    seen: list[Request] = []
    context.on("request", lambda r: seen.append(r) if "/v1/events" in r.url else None)
    return seen


def test_sdk_is_served_by_the_local_runtime(runtime: LocalLogSight) -> None:
    with runtime.client() as client:
        for path in ("/sdk/logsight.js", "/sdk/logsight.mjs"):
            response = client.get(path)
            assert response.status_code == 200
            assert response.headers["content-type"] == "text/javascript; charset=utf-8"
            assert response.headers["cache-control"] == "public, max-age=300"
            assert response.headers["access-control-allow-origin"] == "*"
            assert b"logsight.js" in response.content
        assert client.get("/sdk/other.js").status_code == 404


def test_a_page_session_from_load_to_leaving(
    runtime: LocalLogSight, site: StaticSite, context: BrowserContext
) -> None:
    requests = ingest_requests(context)
    page = context.new_page()
    shop_url = f"{site.url}/shop.html"
    page.goto(shop_url)
    page.wait_for_function("window.logsight !== undefined")
    user_agent = page.evaluate("navigator.userAgent")
    session_id = page.evaluate("sessionStorage.getItem('logsight:sid')")
    assert session_id

    # The pageview made on load leaves by fetch: a preflighted cross-origin JSON POST whose
    # answer the snippet can read only because CORS let it.
    page.evaluate("logsight.flush()")
    posted = [r for r in requests if r.resource_type == "fetch"]
    assert len(posted) == 1
    assert posted[0].headers["content-type"] == "application/json"
    response = posted[0].response()
    assert response is not None
    assert response.status == 202
    assert page.evaluate(f"localStorage.getItem('logsight:{runtime.key}')") is None

    page.evaluate(
        """() => {
        logsight.identify("user-42", {email: "ada@example.com", plan: "pro"});
        logsight.setContext("experiment", "green-button");
        logsight.track("add_to_cart", {sku: "A-1", price: 9.5});
    }"""
    )
    page.click("#buy")
    page.evaluate("() => { setTimeout(checkout, 0); loadCart(); }")
    page.wait_for_function("window.seen >= 2")
    page.evaluate("history.pushState({}, '', '/shop/step-2')")
    # Playwright does not report a beacon sent while its page unloads: the page notes it in
    # sessionStorage, which the next page of this tab can read.
    page.evaluate(
        """() => {
        const send = navigator.sendBeacon.bind(navigator);
        navigator.sendBeacon = (url, body) => {
            sessionStorage.setItem("beacon", JSON.stringify({url, events: JSON.parse(body).events.length}));
            return send(url, body);
        };
    }"""
    )
    # Leaving within 2 s of those events: they go with the page, by sendBeacon.
    page.goto(f"{site.url}/bye.html")
    beacon = json.loads(page.evaluate("sessionStorage.getItem('beacon')"))
    assert beacon == {"url": f"{runtime.url}/v1/events?key={runtime.key}", "events": 4}
    assert [r.resource_type for r in requests] == ["fetch"], "nothing else went by fetch"

    events = wait_for_rows(
        runtime,
        5,
        "SELECT * FROM events WHERE session_id = %s ORDER BY timestamp, type",
        session_id,
    )
    by_kind = {(e["type"], e["name"]): e for e in events}
    assert sorted(by_kind) == [
        ("error", "RangeError"),
        ("error", "TypeError"),
        ("event", "add_to_cart"),
        ("pageview", "pageview"),
    ]
    pageviews = [e for e in events if e["type"] == "pageview"]
    assert [e["context"]["url"] for e in pageviews] == [shop_url, f"{site.url}/shop/step-2"]
    for event in events:
        assert event["context"]["user_agent"] == user_agent
        assert event["session_id"] == session_id
        assert event["release"] == "shop@1.0.0"
        assert event["environment"] == "test"
        assert event["sdk"] == {"name": "logsight.js", "version": "0.1.0"}
        assert event["browser"] and "Chrome" in event["browser"]
    after_identify = [e for e in events if e is not pageviews[0]]
    for event in after_identify:
        assert event["user_id"] == "user-42"
        assert event["user_traits"]["email"] == "ada@example.com"
        assert event["context"]["experiment"] == "green-button"
    assert pageviews[0]["user_id"] is None

    cart = by_kind[("event", "add_to_cart")]
    assert cart["properties"] == {"sku": "A-1", "price": 9.5}
    assert cart["context"]["url"] == shop_url
    assert cart["context"]["title"] == "Shop"

    uncaught = by_kind[("error", "TypeError")]
    assert uncaught["error"]["value"] == "card declined for 42"
    assert uncaught["error"]["handled"] is False
    frames = uncaught["error"]["stacktrace"]["frames"]
    assert [f["function"] for f in frames] == ["checkout", "chargeCard"]
    for frame in frames:
        assert frame["filename"] == f"{site.url}/app.js"
        assert frame["in_app"] is True
        assert frame["lineno"] > 0
        assert frame["colno"] > 0
    crumbs = uncaught["breadcrumbs"]
    assert {"category": "ui.click", "message": "button#buy.btn.primary"}.items() <= crumbs[
        -1
    ].items()

    rejection = by_kind[("error", "RangeError")]
    assert rejection["error"]["value"] == "cart expired"
    assert rejection["error"]["stacktrace"]["frames"][-1]["function"] == "loadCart"

    # Both errors became issues, grouped by their in-app stacks.
    issues = wait_for_rows(
        runtime,
        2,
        "SELECT i.title FROM issues i JOIN events e ON e.project_id = i.project_id"
        " AND e.fingerprint = i.fingerprint WHERE e.session_id = %s ORDER BY i.title",
        session_id,
    )
    assert [i["title"] for i in issues] == [
        "RangeError: cart expired",
        "TypeError: card declined for 42",
    ]


def test_the_es_module_build(
    runtime: LocalLogSight, site: StaticSite, context: BrowserContext
) -> None:
    page = context.new_page()
    page.goto(f"{site.url}/module.html")
    page.wait_for_function("window.logsight !== undefined")
    event_id = page.evaluate(
        """async () => {
        const id = logsight.captureMessage("hello from a module", "warning");
        await logsight.flush();
        return id;
    }"""
    )
    # captureMessage sends a log event: a log line.
    [line] = wait_for_rows(runtime, 1, "SELECT * FROM logs WHERE log_id = %s", event_id)
    assert (line["level"], line["body"]) == ("warning", "hello from a module")
    assert line["environment"] == "esm"


def test_events_survive_an_outage_in_local_storage(
    runtime: LocalLogSight, site: StaticSite, context: BrowserContext
) -> None:
    storage_key = f"logsight:{runtime.key}"
    runtime.stop()
    try:
        page = context.new_page()
        page.goto(f"{site.url}/offline.html")
        page.wait_for_function("window.logsight !== undefined")
        page.evaluate(
            """async () => {
            logsight.track("offline_order", {n: 1});
            logsight.captureException(new Error("payment service unreachable"));
            await logsight.flush();
        }"""
        )
        stored = json.loads(page.evaluate(f"localStorage.getItem('{storage_key}')"))
        assert sorted(e["type"] for e in stored) == ["error", "event", "pageview"]
        # Leaving while LogSight is down: the events stay in the browser.
        page.goto(f"{site.url}/bye.html")
        after_leaving = json.loads(page.evaluate(f"localStorage.getItem('{storage_key}')"))
        assert {e["event_id"] for e in after_leaving} == {e["event_id"] for e in stored}
    finally:
        runtime.start()

    page.goto(f"{site.url}/offline.html")
    ids = [e["event_id"] for e in stored]
    events = wait_for_rows(runtime, 3, "SELECT * FROM events WHERE event_id = ANY(%s::uuid[])", ids)
    by_name = {e["name"]: e for e in events}
    assert by_name["offline_order"]["properties"] == {"n": 1}
    assert by_name["Error"]["error"]["value"] == "payment service unreachable"
    assert by_name["Error"]["error"]["stacktrace"]["frames"]
    assert {e["context"]["url"] for e in events} == {f"{site.url}/offline.html"}
    page.wait_for_function(f"localStorage.getItem('{storage_key}') === null")
    # Delivered once: the second page's own pageview is there too, nothing is duplicated.
    assert len(rows(runtime, "SELECT 1 FROM events WHERE event_id = ANY(%s::uuid[])", ids)) == 3
