"""The official Sentry SDKs send to LogSight by changing only the DSN (through `logsight local`)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import httpx
import psycopg
import pytest
import sentry_sdk
from psycopg.rows import dict_row
from sentry_sdk import logger as sentry_logger

from tests.conftest import RUNTIME_ENV, create_database, create_vhost, delete_vhost, drop_database
from tests.support.api import Member, make_member
from tests.support.runtime import LocalLogSight

pytestmark = pytest.mark.slow
Level = Literal["info", "warning"]
NODE_CLIENT = Path(__file__).resolve().parents[1] / "clients" / "sentry-node"


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    database, vhost = create_database("logsight_sentry"), create_vhost()
    local = LocalLogSight(amqp_url=vhost, database_url=database, env=RUNTIME_ENV)
    try:
        yield local.start()
    finally:
        local.cleanup()
        delete_vhost(vhost)
        drop_database(database)


@pytest.fixture(scope="module")
def dsn(runtime: LocalLogSight) -> str:
    with psycopg.connect(runtime.resolved_database_url) as conn:
        row = conn.execute(
            "SELECT number FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
    assert row is not None
    return f"http://{runtime.key}@127.0.0.1:{runtime.port}/{row[0]}"


def wait_for(runtime: LocalLogSight, sql: str, *params: Any, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        while True:
            with conn.cursor(row_factory=dict_row) as cur:
                row = cur.execute(sql, params).fetchone()  # type: ignore[arg-type]
            if row is not None:
                return row
            if time.monotonic() > deadline:
                raise AssertionError(f"nothing for {sql} {params}:\n{runtime.log()}")
            time.sleep(0.2)


def checkout(cart_id: int) -> None:
    discount_code = "WINTER"  # a local variable the SDK reports with the frame
    raise ValueError(f"cart {cart_id} is invalid ({discount_code})")


def send_python_exception(dsn: str, compression: str) -> str:
    sentry_sdk.init(
        dsn=dsn,
        release="shop@1.4.2",
        environment="test",
        default_integrations=False,
        _experiments={"transport_compression_algo": compression},
    )
    try:
        sentry_sdk.set_user({"id": "py-user-1", "email": "ada@example.com"})
        sentry_sdk.add_breadcrumb(category="cart", message="loading cart 1234", level="info")
        try:
            checkout(1234)
        except ValueError:
            event_id = sentry_sdk.capture_exception()
        assert event_id is not None
    finally:
        sentry_sdk.get_client().close(timeout=10)
    return event_id


def send_python_message(dsn: str, text: str, level: Level, *, times: int = 1) -> str:
    """``text`` at ``level`` with capture_message (``times`` times), then a log record with
    the Sentry logger (a ``log`` item); the last message's event id."""
    sentry_sdk.init(dsn=dsn, default_integrations=False, enable_logs=True)
    try:
        ids = [sentry_sdk.capture_message(text, level=level) for _ in range(times)]
        sentry_logger.info(f"log record for {text}")
    finally:
        sentry_sdk.get_client().close(timeout=10)
    assert ids[-1] is not None
    return ids[-1]


def send_node(dsn: str, *args: str) -> str:
    result = subprocess.run(
        ["node", "send.mjs", dsn, *args],
        cwd=NODE_CLIENT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


def member_of(runtime: LocalLogSight, role: str) -> Member:
    """A new member of the project's organization."""
    with psycopg.connect(runtime.resolved_database_url, autocommit=True) as conn:
        org = conn.execute(
            "SELECT organization_id FROM projects WHERE id = %s", (runtime.project_id,)
        ).fetchone()
        assert org is not None
        return make_member(conn, org[0], role)


def issue_of(runtime: LocalLogSight, event_id: str) -> dict[str, Any]:
    return wait_for(
        runtime,
        "SELECT i.* FROM issues i JOIN events e ON e.project_id = i.project_id"
        " AND e.fingerprint = i.fingerprint WHERE e.event_id = %s",
        uuid.UUID(event_id),
    )


def test_sentry_python_with_gzip_and_brotli_then_a_regression(
    runtime: LocalLogSight, dsn: str
) -> None:
    first = send_python_exception(dsn, "gzip")
    event = wait_for(runtime, "SELECT * FROM events WHERE event_id = %s", uuid.UUID(first))
    assert event["type"] == "error"
    assert event["user_id"] == "py-user-1"
    assert event["release"] == "shop@1.4.2"
    assert event["breadcrumbs"][-1]["message"] == "loading cart 1234"
    frames = event["error"]["stacktrace"]["frames"]
    crash_site = frames[-1]
    assert crash_site["function"] == "checkout"
    assert crash_site["in_app"] is True
    assert crash_site["vars"]["discount_code"] == "'WINTER'"
    assert "raise ValueError" in crash_site["context_line"]
    issue = issue_of(runtime, first)
    assert issue["title"] == "ValueError: cart 1234 is invalid (WINTER)"
    assert issue["culprit"] == "tests.ingest.test_sentry_clients in checkout"
    assert issue["events"] == 1

    second = send_python_exception(dsn, "br")
    again = issue_of(runtime, second)
    assert again["id"] == issue["id"]
    wait_for(runtime, "SELECT 1 FROM issues WHERE id = %s AND events = 2", issue["id"])

    # Resolve it through the API, as a member would, then raise again: a regression.
    member = member_of(runtime, "member")
    with runtime.client() as client:
        resolved = client.patch(
            f"/api/projects/{runtime.project_id}/issues/{issue['id']}",
            json={"status": "resolved"},
            headers={"authorization": f"Bearer {member.token}"},
        )
    assert resolved.status_code == 200, resolved.text
    third = send_python_exception(dsn, "gzip")
    regressed = wait_for(runtime, "SELECT * FROM issues WHERE id = %s AND regressed", issue["id"])
    assert regressed["status"] == "unresolved"
    assert regressed["events"] == 3
    assert regressed["regression_event_id"] == uuid.UUID(third)


def test_sentry_node_with_auth_in_the_query_and_a_chunked_body(
    runtime: LocalLogSight, dsn: str
) -> None:
    marker = uuid.uuid4().hex
    event_id = send_node(dsn, marker)
    event = wait_for(runtime, "SELECT * FROM events WHERE event_id = %s", uuid.UUID(event_id))
    assert event["properties"]["marker"] == marker
    assert event["user_id"] == "node-user-7"
    assert event["release"] == "node-app@2.0.0"
    assert event["breadcrumbs"][-1]["message"] == "processing order"
    assert event["sdk"]["name"] == "sentry.javascript.node"
    issue = issue_of(runtime, event_id)
    assert issue["title"] == "TypeError: card declined for order 1234"
    assert "chargeCard" in (issue["culprit"] or "")


def listed_issues(runtime: LocalLogSight, level: str) -> list[str]:
    """Issue ids the API lists for the project at ``level``, as a viewer sees them."""
    member = member_of(runtime, "viewer")
    with runtime.client() as client:
        reply = client.get(
            f"/api/projects/{runtime.project_id}/issues",
            params={"level": level, "limit": 200},
            headers={"authorization": f"Bearer {member.token}"},
        )
    assert reply.status_code == 200, reply.text
    return [issue["id"] for issue in reply.json()["data"]]


def assert_message_issue(runtime: LocalLogSight, event_id: str, text: str, level: str) -> None:
    """The message is an issue at its level (listed when filtering by it), titled by it."""
    event = wait_for(runtime, "SELECT * FROM events WHERE event_id = %s", uuid.UUID(event_id))
    assert (event["type"], event["level"], event["message"]) == ("error", level, text)
    issue = issue_of(runtime, event_id)
    assert (issue["level"], issue["title"]) == (level, text)
    assert str(issue["id"]) in listed_issues(runtime, level)


def log_line(runtime: LocalLogSight, text: str) -> dict[str, Any]:
    """Sentry's log items are log lines, never events."""
    line = wait_for(
        runtime, "SELECT * FROM logs WHERE project_id = %s AND body = %s", runtime.project_id, text
    )
    with psycopg.connect(runtime.resolved_database_url) as conn:
        as_event = conn.execute("SELECT 1 FROM events WHERE message = %s", (text,)).fetchone()
    assert as_event is None
    return line


@pytest.mark.parametrize("level", ["info", "warning"])
def test_sentry_python_messages_are_issues_at_their_level(
    runtime: LocalLogSight, dsn: str, level: Level
) -> None:
    # The level is in the text: a message is grouped by its text, ids and numbers aside.
    text = f"disk {level} {uuid.uuid4().hex[:8]} is almost full"
    event_id = send_python_message(dsn, text, level, times=2)
    assert_message_issue(runtime, event_id, text, level)
    # The same message again is the same issue.
    wait_for(runtime, "SELECT 1 FROM issues WHERE title = %s AND events = 2", text)
    assert log_line(runtime, f"log record for {text}")["level"] == "info"


@pytest.mark.parametrize("level", ["info", "warning"])
def test_sentry_node_messages_are_issues_at_their_level(
    runtime: LocalLogSight, dsn: str, level: str
) -> None:
    marker = f"{level} {uuid.uuid4().hex}"
    event_id = send_node(dsn, marker, level)
    assert_message_issue(runtime, event_id, f"queue {marker} is backing up", level)
    assert log_line(runtime, f"log record {marker}")["level"] == "info"


def test_sdk_errors_are_answered_the_sentry_way(runtime: LocalLogSight, dsn: str) -> None:
    number = dsn.rsplit("/", 1)[1]
    with httpx.Client(base_url=runtime.url, timeout=10) as client:
        bad = client.post(
            f"/api/{number}/envelope/",
            content=b"{}\n{not json}\n",
            params={"sentry_key": runtime.key},
        )
        assert bad.status_code == 400
        assert bad.headers["x-sentry-error"]
        anonymous = client.post(f"/api/{number}/envelope/", content=b"{}\n")
        assert anonymous.status_code == 403
        ok = client.post(
            f"/api/{number}/envelope/",
            content=b'{}\n{"type":"session"}\n{}\n',
            params={"sentry_key": runtime.key},
        )
        assert (ok.status_code, ok.json()) == (200, {})
        assert "retry-after" not in ok.headers
