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
from logsight.storage.issues import TITLE_SQL, set_status
from logsight.storage.maintenance import run_maintenance
from logsight.storage.migrate import available_files, migrate, plan
from logsight.storage.mode import StorageMode
from logsight.storage.partitions import PartitionManager
from logsight.storage.projects import create_project
from tests.conftest import (
    TEST_LAYOUT,
    TEST_TIMESCALE,
    create_database,
    drop_database,
    migrated_database,
)
from tests.support.api import ApiCaller, Member, make_member, make_organization
from tests.support.processor import message, rmq_event

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


# Counters and retention: maintenance works on every project of a database, so these tests get
# a database of their own.


@pytest.fixture
def own_database() -> Iterator[str]:
    with migrated_database("logsight_issue_retention") as url:
        yield url


def stored_counts(conn: psycopg.Connection, project: UUID) -> dict[str, tuple[int, int]]:
    """Per issue: its error events still stored and their distinct users."""
    rows = conn.execute(
        "SELECT i.fingerprint, count(e.event_id), count(DISTINCT e.user_id) FROM issues i"
        " LEFT JOIN events e ON e.project_id = i.project_id AND e.fingerprint = i.fingerprint"
        " AND e.type = 'error' WHERE i.project_id = %s GROUP BY 1",
        (project,),
    ).fetchall()
    return {fingerprint: (int(n), int(users)) for fingerprint, n, users in rows}


def counters(conn: psycopg.Connection, project: UUID) -> dict[str, tuple[int, int]]:
    rows = conn.execute(
        "SELECT fingerprint, events, users FROM issues WHERE project_id = %s", (project,)
    ).fetchall()
    return {fingerprint: (n, users) for fingerprint, n, users in rows}


def process_at(processor: BatchProcessor, project: UUID, *events: dict[str, Any]) -> None:
    """Events received just after the latest of them (ingest keeps timestamps within 30 days of
    reception), as an offline queue flushing would send old ones."""
    received = max(datetime.fromisoformat(e["timestamp"]) for e in events) + timedelta(seconds=1)
    body = message(project, *events, received_at=received)
    outcome = processor.process(records_from_event(rmq_event(QUEUE, [body])))
    assert outcome.inserted == len(events)


def test_issue_counters_follow_retention(own_database: str) -> None:
    now = datetime.now(UTC)
    with psycopg.connect(own_database, autocommit=True) as conn:
        keeps = create_project(conn, "keeps", retention_days=30)
        forgets = create_project(conn, "forgets", retention_days=5)
    database = Database(own_database)
    processor = BatchProcessor(database, "logsight.events.dead")
    try:
        for project in (keeps, forgets):
            # u1 comes back today; "old" was last seen 20 days ago; "older" 40 days ago.
            for age, users in ((40, ["u1", "older"]), (20, ["old", "u2"]), (10, ["u2"])):
                at = now - timedelta(days=age)
                process_at(processor, project.id, *(crash(user=u, at=at) for u in users))
            process_at(
                processor,
                project.id,
                crash(user="u1", at=now - timedelta(days=2)),
                crash(user="u3", at=now),
            )
            process_at(processor, project.id, crash(function="refund", at=now - timedelta(days=40)))
        with psycopg.connect(own_database, autocommit=True) as conn:
            for project in (keeps, forgets):
                assert counters(conn, project.id) == stored_counts(conn, project.id)
            [ignored] = [
                i for i in issues_of(conn, keeps.id) if i["culprit"] == "shop.checkout in pay"
            ]
            set_status(conn, keeps.id, [ignored["id"]], "ignored", user_id=None, ignore_count=5)

        run_maintenance(own_database, default_retention_days=30, ahead_days=1)

        with psycopg.connect(own_database, autocommit=True) as conn:
            for project in (keeps, forgets):
                assert counters(conn, project.id) == stored_counts(conn, project.id)
            by_culprit = {i["culprit"]: i for i in issues_of(conn, keeps.id)}
            # 40 days is past the longest retention: u1 stays (seen since), "older" goes.
            pay = by_culprit["shop.checkout in pay"]
            assert (pay["events"], pay["users"]) == (5, 4)  # u1 u2 old u3
            # Still five more events from here before it reopens.
            assert pay["ignore_until_events"] == pay["events"] + 5
            # Nothing of the other issue is left; the issue is kept, at zero.
            refund = by_culprit["shop.checkout in refund"]
            assert (refund["events"], refund["users"]) == (0, 0)
            short = {i["culprit"]: i for i in issues_of(conn, forgets.id)}
            assert (
                short["shop.checkout in pay"]["events"],
                short["shop.checkout in pay"]["users"],
            ) == (2, 2)

            # Nothing more goes on the next run.
            before = counters(conn, keeps.id), counters(conn, forgets.id)
        run_maintenance(own_database, default_retention_days=30, ahead_days=1)
        with psycopg.connect(own_database, autocommit=True) as conn:
            assert (counters(conn, keeps.id), counters(conn, forgets.id)) == before

        # A user whose events all went counts again when seen again.
        process_at(processor, forgets.id, crash(user="old", at=now))
        with psycopg.connect(own_database) as conn:
            assert counters(conn, forgets.id) == stored_counts(conn, forgets.id)
            pay_users = {i["culprit"]: i["users"] for i in issues_of(conn, forgets.id)}
            assert pay_users["shop.checkout in pay"] == 3  # u1 u3 old
    finally:
        database.reset()


def test_migration_0015_makes_the_counters_true() -> None:
    """Installations that ran retention before 0015 have counters above what is stored."""
    previous = {
        m.filename: m.sql for m in plan(available_files(), TEST_LAYOUT) if m.version < "0015"
    }
    url = create_database("logsight_issue_counts")
    try:
        migrate(url, timescale=TEST_TIMESCALE, files=previous)
        now = datetime.now(UTC)
        day = now.date()
        with psycopg.connect(url, autocommit=True) as conn:
            project = create_project(conn, "before 0015")
            if TEST_LAYOUT is StorageMode.POSTGRES:
                PartitionManager().ensure(conn, {day, day - timedelta(days=3)})
            for user, age in (("u1", 0), ("u1", 3), ("u2", 3)):
                conn.execute(
                    "INSERT INTO events (project_id, event_id, timestamp, received_at, type, name,"
                    " level, user_id, fingerprint) VALUES (%s, gen_random_uuid(), %s, %s, 'error',"
                    " 'E', 'error', %s, 'f')",
                    (project.id, now - timedelta(days=age), now, user),
                )
            # Counted when five events and three users were stored; two events and u3 are gone.
            conn.execute(
                "INSERT INTO issues (project_id, fingerprint, title, level, first_seen, last_seen,"
                " events, users, status, ignore_until_events)"
                " VALUES (%s, 'f', 'E', 'error', %s, %s, 5, 3, 'ignored', 15)",
                (project.id, now - timedelta(days=9), now),
            )
            conn.execute(
                "INSERT INTO issue_users (project_id, fingerprint, user_id)"
                " SELECT %s, 'f', u FROM unnest(ARRAY['u1', 'u2', 'u3']) AS u",
                (project.id,),
            )

        assert migrate(url, timescale=TEST_TIMESCALE) == [
            m.filename for m in plan(available_files(), TEST_LAYOUT) if m.version >= "0015"
        ]

        with psycopg.connect(url) as conn:
            [issue] = issues_of(conn, project.id)
            assert (issue["events"], issue["users"], issue["ignore_until_events"]) == (3, 2, 13)
            assert conn.execute(
                "SELECT day, events FROM issue_days WHERE project_id = %s ORDER BY day",
                (project.id,),
            ).fetchall() == [(day - timedelta(days=3), 2), (day, 1)]
            assert conn.execute(
                "SELECT user_id, last_day FROM issue_users WHERE project_id = %s ORDER BY 1",
                (project.id,),
            ).fetchall() == [("u1", day), ("u2", day - timedelta(days=3))]
    finally:
        drop_database(url)
