"""Errors become issues: set-based, idempotent grouping in the processor, and the workflow API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.grouping import title
from logsight.processing.records import records_from_event
from logsight.storage.db import Database
from logsight.storage.issues import TITLE_SQL
from tests.processor_helpers import message, rmq_event
from tests.support.api import ApiCaller, Member, make_member, make_organization

QUEUE = "logsight.events.0"


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    yield BatchProcessor(db, "logsight.events.dead")
    db.reset()


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def team(db: psycopg.Connection) -> dict[str, Any]:
    org = make_organization(db)
    members = {role: make_member(db, org, role) for role in ("admin", "member", "viewer")}
    row = db.execute(
        "INSERT INTO projects (organization_id, name, slug) VALUES (%s, 'app', 'app') RETURNING id",
        (org,),
    ).fetchone()
    assert row is not None
    return {"org": org, "project": row[0], **members}


def crash(
    value: str = "cart 1234 is invalid",
    *,
    user: str | None = "u1",
    release: str = "1.0.0",
    at: datetime | None = None,
    function: str = "pay",
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "error",
        "level": "error",
        "release": release,
        "environment": "production",
        "timestamp": (at or datetime.now(UTC)).isoformat(),
        "properties": {"plan": "pro", "region": "eu"},
        "breadcrumbs": [{"category": "http", "message": "POST /checkout"}],
        "error": {
            "type": "ValueError",
            "value": value,
            "stacktrace": {
                "frames": [
                    {
                        "filename": "django/core/handlers.py",
                        "function": "inner",
                        "lineno": 55,
                        "in_app": False,
                    },
                    {
                        "filename": "shop/checkout.py",
                        "module": "shop.checkout",
                        "function": function,
                        "lineno": 88,
                        "in_app": True,
                        "context_line": "    raise ValueError(msg)",
                        "pre_context": ["def pay(cart):", "    msg = check(cart)"],
                        "post_context": [""],
                        "vars": {"cart": "1234"},
                    },
                ]
            },
        },
        **extra,
    }
    if user:
        event["user"] = {"id": user}
    return event


def process(
    processor: BatchProcessor, project: UUID, *events: dict[str, Any], redelivered: bool = False
) -> dict[str, Any]:
    body = message(project, *events)
    outcome = processor.process(
        records_from_event(rmq_event(QUEUE, [body], redelivered=redelivered))
    )
    return {"body": body, "outcome": outcome}


def issue_events(conn: psycopg.Connection, project: UUID) -> list[tuple[UUID, datetime]]:
    rows = conn.execute(
        "SELECT event_id, timestamp FROM events WHERE project_id = %s", (project,)
    ).fetchall()
    return [(event_id, moment) for event_id, moment in rows]


def issues_of(conn: psycopg.Connection, project: UUID) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            "SELECT * FROM issues WHERE project_id = %s ORDER BY first_seen", (project,)
        ).fetchall()


def test_same_error_twice_is_one_issue_with_counts(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    process(
        processor, team["project"], crash(user="u1", release="1.0.0", at=now - timedelta(minutes=5))
    )
    process(
        processor,
        team["project"],
        crash("cart 98 is invalid", user="u2", release="1.1.0", at=now),
        crash(user="u1", at=now - timedelta(minutes=1)),
    )
    [issue] = issues_of(db, team["project"])
    assert issue["events"] == 3
    assert issue["users"] == 2
    assert issue["title"] == "ValueError: cart 1234 is invalid"
    assert issue["culprit"] == "shop.checkout in pay"
    assert issue["level"] == "error"
    assert (issue["first_release"], issue["last_release"]) == ("1.0.0", "1.1.0")
    assert issue["first_seen"] == now - timedelta(minutes=5)
    assert issue["last_seen"] == now
    assert issue["status"] == "unresolved"


def test_a_redelivered_batch_changes_no_counter(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection
) -> None:
    events = [crash(user=f"u{i % 3}") for i in range(6)]
    body = message(team["project"], *events)
    processor.process(records_from_event(rmq_event(QUEUE, [body])))
    before = issues_of(db, team["project"])
    processor.process(records_from_event(rmq_event(QUEUE, [body], redelivered=True)))
    assert issues_of(db, team["project"]) == before
    assert before[0]["events"] == 6
    assert before[0]["users"] == 3


def test_different_functions_are_different_issues_and_non_errors_none(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection
) -> None:
    process(
        processor,
        team["project"],
        crash(function="pay"),
        crash(function="refund"),
        {"name": "signup"},
    )
    assert len(issues_of(db, team["project"])) == 2


def test_sql_title_matches_the_grouping_title(db: psycopg.Connection) -> None:
    cases = [
        {
            "error": {"type": "ValueError", "value": "bad\nsecond line"},
            "message": None,
            "name": "ValueError",
        },
        {"error": {"type": "ValueError"}, "message": None, "name": "ValueError"},
        {"error": {"value": "only a value"}, "message": None, "name": "Error"},
        {"error": None, "message": "  disk full  ", "name": "disk full"},
        {"error": None, "message": None, "name": "Error"},
    ]
    for case in cases:
        row = db.execute(
            f"SELECT {TITLE_SQL} FROM (SELECT %s::jsonb AS error, %s::text AS message, %s::text AS name) e",
            (
                psycopg.types.json.Jsonb(case["error"]) if case["error"] else None,
                case["message"],
                case["name"],
            ),
        ).fetchone()
        assert row is not None
        assert row[0] == title(case), case


def test_resolving_then_a_new_event_is_a_regression(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection, api: ApiCaller
) -> None:
    process(processor, team["project"], crash())
    [issue] = issues_of(db, team["project"])
    member: Member = team["member"]
    viewer: Member = team["viewer"]
    path = f"/api/projects/{team['project']}/issues/{issue['id']}"
    assert api("PATCH", path, token=viewer.token, json={"status": "resolved"}).status == 403
    resolved = api("PATCH", path, token=member.token, json={"status": "resolved"})
    assert resolved.status == 200, resolved.body
    assert resolved.body["status"] == "resolved"
    regression = crash()
    process(processor, team["project"], regression)
    [issue] = issues_of(db, team["project"])
    assert issue["status"] == "unresolved"
    assert issue["regressed"] is True
    sent_at = datetime.fromisoformat(regression["timestamp"])
    [sent] = [
        event_id for event_id, moment in issue_events(db, team["project"]) if moment == sent_at
    ]
    assert issue["regression_event_id"] == sent
    audit = db.execute(
        "SELECT action FROM audit_log WHERE target_id = %s", (str(issue["id"]),)
    ).fetchall()
    assert ("issue.resolved",) in audit


def test_ignore_until_more_events_or_a_date(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection, api: ApiCaller
) -> None:
    process(processor, team["project"], crash(function="a"))
    process(processor, team["project"], crash(function="b"))
    by_culprit = {i["culprit"]: i for i in issues_of(db, team["project"])}
    a, b = by_culprit["shop.checkout in a"], by_culprit["shop.checkout in b"]
    token = team["member"].token
    base = f"/api/projects/{team['project']}/issues"
    assert (
        api(
            "PATCH", f"{base}/{a['id']}", token=token, json={"status": "ignored", "ignore_count": 2}
        ).status
        == 200
    )
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    assert (
        api(
            "PATCH",
            f"{base}/{b['id']}",
            token=token,
            json={"status": "ignored", "ignore_until": past},
        ).status
        == 200
    )
    bad = api(
        "PATCH", f"{base}/{a['id']}", token=token, json={"status": "resolved", "ignore_count": 2}
    )
    assert bad.status == 422
    process(processor, team["project"], crash(function="a"))
    assert {i["culprit"]: i["status"] for i in issues_of(db, team["project"])}[
        "shop.checkout in a"
    ] == "ignored"
    process(processor, team["project"], crash(function="a"), crash(function="b"))
    statuses = {i["culprit"]: (i["status"], i["regressed"]) for i in issues_of(db, team["project"])}
    assert statuses == {
        "shop.checkout in a": ("unresolved", False),
        "shop.checkout in b": ("unresolved", False),
    }


def test_issue_list_detail_and_events(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection, api: ApiCaller
) -> None:
    process(processor, team["project"], *(crash(user=f"u{i}") for i in range(3)))
    process(processor, team["project"], crash(function="other", release="2.0.0"))
    token = team["viewer"].token
    base = f"/api/projects/{team['project']}/issues"
    listed = api("GET", base, token=token, query="sort=events")
    assert listed.status == 200, listed.body
    assert [i["events"] for i in listed.body["data"]] == [3, 1]
    assert [
        i["events"] for i in api("GET", base, token=token, query="release=2.0.0").body["data"]
    ] == [1]
    assert (
        api("GET", base, token=token, query="query=in%20other").body["data"][0]["culprit"]
        == "shop.checkout in other"
    )
    page = api("GET", base, token=token, query="sort=users&limit=1").body
    assert page["next_cursor"]
    rest = api(
        "GET", base, token=token, query=f"sort=users&limit=1&cursor={page['next_cursor']}"
    ).body
    assert len(rest["data"]) == 1
    assert rest["data"][0]["id"] != page["data"][0]["id"]

    issue_id = listed.body["data"][0]["id"]
    detail = api("GET", f"{base}/{issue_id}", token=token)
    assert detail.status == 200, detail.body
    body = detail.body
    [exception] = body["exceptions"]
    assert [f["in_app"] for f in exception["frames"]] == [False, True]
    assert exception["frames"][-1]["context_line"] == "    raise ValueError(msg)"
    assert exception["frames"][-1]["pre_context"] == ["def pay(cart):", "    msg = check(cart)"]
    assert body["breadcrumbs"] == [{"category": "http", "message": "POST /checkout"}]
    tags = {t["key"]: {v["value"]: v["count"] for v in t["values"]} for t in body["tags"]}
    assert tags["plan"] == {"pro": 3}
    assert tags["release"] == {"1.0.0": 3}
    assert len(body["events_24h"]) == 24
    assert sum(p["events"] for p in body["events_24h"]) == 3
    assert len(body["events_30d"]) == 30

    events = api("GET", f"{base}/{issue_id}/events", token=token, query="limit=2").body
    assert len(events["data"]) == 2
    assert events["next_cursor"]
    one = api("GET", f"{base}/{issue_id}/events/{events['data'][0]['id']}", token=token)
    assert one.status == 200
    assert one.body["error"]["type"] == "ValueError"


def test_bulk_status_and_tenancy(
    processor: BatchProcessor, team: dict[str, Any], db: psycopg.Connection, api: ApiCaller
) -> None:
    process(processor, team["project"], crash(function="x"), crash(function="y"))
    ids = [str(i["id"]) for i in issues_of(db, team["project"])]
    base = f"/api/projects/{team['project']}/issues"
    result = api(
        "POST", f"{base}/bulk", token=team["member"].token, json={"ids": ids, "status": "resolved"}
    )
    assert result.status == 200, result.body
    assert result.body["updated"] == 2
    assert (
        api("GET", base, token=team["viewer"].token, query="status=resolved").body["data"][0][
            "status"
        ]
        == "resolved"
    )
    stranger = make_member(db, make_organization(db), "owner")
    assert api("GET", f"{base}/{ids[0]}", token=stranger.token).status == 404
    assert (
        api(
            "POST", f"{base}/bulk", token=stranger.token, json={"ids": ids, "status": "unresolved"}
        ).status
        == 404
    )
