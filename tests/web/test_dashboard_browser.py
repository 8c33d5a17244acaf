"""The dashboard end to end in a real browser (Debian's Chromium) against `logsight local`:
sign in as the printed admin, change the password, send events through the snippet and an
error through the Sentry protocol, watch them arrive on the overview and the live stream
without a reload, find them in the explorer, resolve the issue, see them on ingest health. Every main page is checked
with axe and photographed at desktop and phone width (ARTIFACTS_DIR, default
artifacts/screenshots; LOGSIGHT_UPDATE_SCREENSHOTS=1 also refreshes docs/screenshots/)."""

from __future__ import annotations

import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from logsight.local.dashboard import WEB_DIST
from tests.support.browser import StaticSite, html, chromium
from tests.support.runtime import REPO, LocalLogSight, fresh_runtime
from tests.ingest.test_sentry_protocol import PYTHON_EVENT, auth, envelope, event_item

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

AXE = REPO / "web" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = Path(os.environ.get("ARTIFACTS_DIR", REPO / "artifacts" / "screenshots"))
DOCS_SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 780}
NEW_PASSWORD = "plum kettle orbit sunrise"
# Events go through the queue and the processor before any page can show them.
expect.set_options(timeout=20_000)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    if not (WEB_DIST / "index.html").exists():
        raise RuntimeError("web/out is missing: run `make web`")
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: run `make web`")
    with fresh_runtime("logsight_dashboard") as local:
        yield local


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def context(browser: Browser) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(20_000)
    try:
        yield context
    finally:
        context.close()


def admin_password(runtime: LocalLogSight) -> str:
    text = (runtime.data_dir / "admin-password.txt").read_text()
    match = re.search(r"^password: (.+)$", text, re.M)
    assert match, text
    return match.group(1)


def console_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


def axe_violations(page: Page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    result: dict[str, Any] = page.evaluate(
        "() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})"
    )
    return [
        f"{v['id']}: {v['help']} ({', '.join(n['target'][0] for n in v['nodes'][:3])})"
        for v in result["violations"]
    ]


def photograph(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    original = page.viewport_size or DESKTOP
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(300)
        path = ARTIFACTS / f"{name}-{label}.png"
        page.screenshot(path=str(path), full_page=label == "desktop")
        # Nothing wider than the phone's screen: no sideways scrolling at 360 px.
        if label == "phone":
            overflow = page.evaluate("document.documentElement.scrollWidth")
            assert overflow <= size["width"], f"{name} is {overflow}px wide at 360px"
        if os.environ.get("LOGSIGHT_UPDATE_SCREENSHOTS") == "1":
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, DOCS_SCREENSHOTS / path.name)
    page.set_viewport_size(original)


def check_page(page: Page, name: str) -> None:
    assert axe_violations(page) == [], name
    photograph(page, name)


def stat(page: Page, label: str) -> int:
    text = page.locator(f'[data-stat="{label}"]').inner_text()
    return int(text.replace(",", ""))


def send_sentry_error(runtime: LocalLogSight) -> str:
    event_id = uuid.uuid4().hex
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    event = {**PYTHON_EVENT, "event_id": event_id, "timestamp": now}
    body = envelope(event_item(event), header={"event_id": event_id})
    number = runtime.info["dsn"].rsplit("/", 1)[1]
    reply = httpx.post(
        f"{runtime.url}/api/{number}/envelope/", content=body, headers=auth(runtime.key), timeout=10
    )
    assert reply.status_code == 200, reply.text
    return event_id


def test_the_dashboard_end_to_end(runtime: LocalLogSight, context: BrowserContext) -> None:
    page = context.new_page()
    errors = console_errors(page)

    # Signed out: the login page.
    page.goto(f"{runtime.url}/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    expect(page.get_by_role("heading", name="Sign in to LogSight")).to_be_visible()
    check_page(page, "login")
    page.get_by_label("Email").fill("admin@localhost")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.locator("#login-error")).to_contain_text("wrong email or password")
    # The browser reports the refused sign-in (401) in the console: that one is expected.
    errors.clear()

    # The printed password gets the admin in, and straight to choosing a new one.
    printed = admin_password(runtime)
    page.get_by_label("Password").fill(printed)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    page.get_by_label("Current password").fill(printed)
    page.get_by_label("New password (at least 8 characters)").fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()

    # The refresh token is a cookie page scripts cannot read, sent only to /api/auth.
    (cookie,) = [c for c in context.cookies() if c["name"] == "logsight_refresh"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/api/auth"
    assert "logsight_refresh" not in page.evaluate("document.cookie")
    # The printed password no longer works; a reload keeps the session (the cookie).
    old = httpx.post(
        f"{runtime.url}/api/auth/login",
        json={"email": "admin@localhost", "password": printed},
        timeout=10,
    )
    assert old.status_code == 401
    page.reload()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("No events in this range yet")).to_be_visible()
    check_page(page, "overview-empty")

    # The live stream in a second tab, open before anything is sent.
    live = context.new_page()
    live_errors = console_errors(live)
    live.goto(f"{runtime.url}/live/")
    expect(live.get_by_text("Waiting for events")).to_be_visible()

    # A customer's page with the snippet, on another origin; and an error from a Sentry SDK.
    def shop(_query: str) -> tuple[str, bytes]:
        return html(
            "<!doctype html><title>Shop</title>"
            f'<script src="{runtime.url}/sdk/logsight.js" data-key="{runtime.key}"'
            ' data-release="shop@2.0.0" data-environment="production"></script>'
            "<script>addEventListener('load', () => {"
            " logsight.identify('user-7');"
            " logsight.track('checkout_completed', {plan: 'pro', items: 3});"
            "});</script>"
        )

    with StaticSite({"/shop.html": shop}) as site:
        customer = context.new_page()
        customer.goto(f"{site.url}/shop.html")
        customer.wait_for_function("() => window.logsight !== undefined")
    send_sentry_error(runtime)

    # Both tabs show them without a reload.
    expect(live.locator('[data-event-name="checkout_completed"]').first).to_be_visible()
    expect(live.get_by_text("cart 1234 is invalid").first).to_be_visible()
    check_page(live, "live")
    deadline = time.monotonic() + 30
    while stat(page, "Events") < 3 or stat(page, "Errors") < 1:
        assert time.monotonic() < deadline, page.content()[:2000]
        page.wait_for_timeout(500)
    new_issues = page.get_by_role("region", name="New issues")
    expect(new_issues.get_by_role("link", name=re.compile("cart 1234 is invalid"))).to_be_visible()
    top_events = page.get_by_role("region", name="Top events")
    expect(top_events.get_by_role("link", name="checkout_completed")).to_be_visible()
    check_page(page, "overview")

    # The range picker and filters live in the URL.
    page.get_by_role("button", name="1 hour").click()
    expect(page).to_have_url(re.compile(r"range=1h"))
    page.reload()
    expect(page.get_by_role("button", name="1 hour")).to_have_attribute("aria-pressed", "true")

    # The explorer finds the tracked event and shows it in full.
    page.get_by_role("link", name="Events", exact=True).click()
    page.get_by_label("Text in name or message").fill("checkout")
    page.get_by_role("button", name="Search").click()
    page.locator('[data-event-name="checkout_completed"]').first.click()
    detail = page.get_by_role("region", name="Event")
    expect(detail.get_by_role("heading", name="checkout_completed")).to_be_visible()
    expect(detail.get_by_label("Properties")).to_contain_text("plan")
    expect(detail.get_by_label("Raw event JSON")).to_contain_text('"user_id": "user-7"')
    check_page(page, "events")

    # The issue: listed, its trace with the in-app frame, then resolved.
    page.get_by_role("link", name="Issues", exact=True).click()
    issue_link = page.get_by_role("link", name=re.compile("cart 1234 is invalid"))
    expect(issue_link).to_be_visible()
    check_page(page, "issues")
    issue_link.click()
    expect(page.locator("[data-issue-status]")).to_have_text("unresolved")
    expect(page.locator('[data-in-app="true"]').first).to_contain_text("pay")
    expect(page.get_by_role("region", name="Breadcrumbs")).to_contain_text("GET /cart")
    expect(page.locator("[data-impact]")).to_contain_text("1 of")
    check_page(page, "issue")
    page.get_by_role("button", name="Resolve").click()
    expect(page.locator("[data-issue-status]")).to_have_text("resolved")
    page.get_by_role("link", name="Issues", exact=True).click()
    expect(page.get_by_text("No unresolved issues.")).to_be_visible()

    # Ingest health: what was stored, and no dead letters (the admin may see them).
    page.get_by_role("link", name="Ingest", exact=True).click()
    expect(page.get_by_role("heading", name="Ingest health")).to_be_visible()
    expect(page.get_by_text("No dead letters")).to_be_visible()
    assert stat(page, "Stored") >= 3
    check_page(page, "ingest")

    # Setup: the snippet and DSN to copy, a test event watched arriving, a new project.
    page.get_by_role("link", name="Setup", exact=True).click()
    expect(page.get_by_label("Browser snippet", exact=True)).to_contain_text(runtime.key)
    expect(page.get_by_label("Sentry DSN", exact=True)).to_have_text(runtime.info["dsn"])
    page.get_by_role("button", name="Send a test event").click()
    expect(page.get_by_text("The test event arrived")).to_be_visible()
    check_page(page, "setup")
    page.get_by_label("Name", exact=True).fill("Second shop")
    page.get_by_role("button", name="Create project").click()
    expect(page.get_by_role("region", name="Send events to Second shop")).to_be_visible()

    assert errors == [] and live_errors == [], errors + live_errors


def ensure_signed_in(page: Page, runtime: LocalLogSight) -> None:
    """Signed in as the admin whether or not the first test ran (and changed the password)."""
    page.goto(f"{runtime.url}/login/")
    page.wait_for_load_state("networkidle")
    if "/login/" not in page.url:
        return
    page.get_by_label("Email").fill("admin@localhost")
    printed = admin_password(runtime)
    page.get_by_label("Password").fill(printed)
    page.get_by_role("button", name="Sign in").click()
    password_page = page.get_by_role("heading", name="Choose a new password")
    overview = page.get_by_role("heading", name="Overview")
    error = page.locator("#login-error")
    expect(password_page.or_(overview).or_(error)).to_be_visible()
    if error.is_visible():
        page.get_by_label("Password").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
    elif password_page.is_visible():
        page.get_by_label("Current password").fill(printed)
        page.get_by_label("New password (at least 8 characters)").fill(NEW_PASSWORD)
        page.get_by_label("New password again").fill(NEW_PASSWORD)
        page.get_by_role("button", name="Change password").click()
    expect(overview).to_be_visible()


def test_bulk_resolve_from_the_issue_list(runtime: LocalLogSight, context: BrowserContext) -> None:
    page = context.new_page()
    ensure_signed_in(page, runtime)
    for _ in range(2):
        event = {
            **PYTHON_EVENT,
            "exception": {"values": [{"type": f"E{uuid.uuid4().hex[:6]}", "value": "boom"}]},
        }
        body = envelope(event_item({**event, "event_id": uuid.uuid4().hex}))
        number = runtime.info["dsn"].rsplit("/", 1)[1]
        reply = httpx.post(
            f"{runtime.url}/api/{number}/envelope/", content=body, headers=auth(runtime.key)
        )
        assert reply.status_code == 200
    page.goto(f"{runtime.url}/issues/?project={runtime.project_id}")
    rows = page.get_by_role("checkbox", name=re.compile("^Select E"))
    expect(rows).to_have_count(2, timeout=30_000)
    page.get_by_role("checkbox", name="Select all issues").check()
    page.get_by_role("toolbar", name="Bulk actions").get_by_role("button", name="Ignore").click()
    expect(page.get_by_role("status")).to_contain_text("2 issues marked ignored")
    expect(page.get_by_text("No unresolved issues.")).to_be_visible()
    page.get_by_role("tab", name="ignored").click()
    expect(rows).to_have_count(2)
