"""Privacy through the API: rules (role-checked, audited, validated) that the processor applies,
deleting a user's data as a background job, and streamed exports."""

from __future__ import annotations

import csv
import hashlib
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import psycopg
import pytest

from logsight.config import Settings
from logsight.privacy.deletion import run_pending
from logsight.privacy.identity import EmailMode, hash_email
from logsight.privacy.policies import POLICIES, PolicyCache
from logsight.privacy.scrubber import PrivacySettings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage.db import Database
from logsight.storage.install_secrets import PRIVACY_HASH_KEY, install_secret
from logsight.tenancy.privacy import save_privacy_settings
from tests.conftest import RUNTIME_ENV, count_rows
from tests.support.api import ApiCaller, make_member, make_organization
from tests.support.processor import message, rmq_event

ROLES = ("owner", "admin", "member", "viewer")


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    org_id = make_organization(db)
    members = {role: make_member(db, org_id, role) for role in ROLES}
    created = api(
        "POST",
        "/api/projects",
        token=members["owner"].token,
        json={"organization_id": str(org_id), "name": "shop"},
    )
    assert created.status == 201
    return {"org": org_id, "project": created.body, "pid": UUID(created.body["id"]), **members}


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    POLICIES.clear()
    yield BatchProcessor(db, "logsight.events.dead")
    db.reset()
    POLICIES.clear()


def send(processor: BatchProcessor, project_id: UUID, *events: dict[str, Any]) -> None:
    processor.process(
        records_from_event(rmq_event("logsight.events.0", [message(project_id, *events)]))
    )


def privacy_path(team: dict[str, Any]) -> str:
    return f"/api/projects/{team['pid']}/privacy"


def test_defaults_then_admins_change_the_rules_and_it_is_audited(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    for role in ROLES:
        reply = api("GET", privacy_path(team), token=team[role].token)
        assert reply.status == 200
        assert reply.body["scrub"] is True
        assert reply.body["email"] == "store"
        assert reply.body["ip"] == "truncate"
        assert "password" in reply.body["default_sensitive_keys"]
        assert reply.body["updated_at"] is None
    rules = {"sensitive_keys": ["Order-Ref"], "safe_keys": ["session"], "email": "hash"}
    for role in ("member", "viewer"):
        assert api("PUT", privacy_path(team), token=team[role].token, json=rules).status == 403
    reply = api("PUT", privacy_path(team), token=team["admin"].token, json=rules)
    assert reply.status == 200, reply.body
    assert reply.body["sensitive_keys"] == ["order_ref"]
    assert reply.body["email"] == "hash" and reply.body["ip"] == "truncate"
    assert reply.body["updated_at"] is not None
    assert (
        count_rows(
            db,
            "SELECT count(*) FROM audit_log WHERE action = 'project.privacy_updated'"
            " AND target_id = %s AND actor_user_id = %s",
            str(team["pid"]),
            team["admin"].user_id,
        )
        == 1
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "encrypt"}, "body.email"),
        ({"ip": "mask"}, "body.ip"),
        ({"sensitive_keys": ["ok", "---"]}, "body.sensitive_keys.1"),
        ({"safe_keys": ["x" * 129]}, "body.safe_keys.0"),
        ({"safe_keys": "session"}, "body.safe_keys"),
        ({"scrub": "maybe"}, "body.scrub"),
        ({"unknown": 1}, "body.unknown"),
        ({"sensitive_keys": [f"k{i}" for i in range(201)]}, "body.sensitive_keys"),
    ],
)
def test_bad_rules_are_refused_naming_the_field(
    api: ApiCaller, team: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    reply = api("PUT", privacy_path(team), token=team["admin"].token, json=body)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field


def test_the_processor_applies_the_project_rules(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection, processor: BatchProcessor
) -> None:
    pid = team["pid"]
    event = {
        "name": "signup",
        "properties": {"order_ref": "R-77", "session": "s-1", "password": "pw"},
        "user": {"id": "u1", "email": "Ann@Example.com", "ip_address": "203.0.113.77"},
    }
    send(processor, pid, event)
    stored = db.execute(
        "SELECT properties, user_traits FROM events WHERE project_id = %s", (pid,)
    ).fetchone()
    assert stored is not None
    assert stored[0] == {"order_ref": "R-77", "session": "[Filtered]", "password": "[Filtered]"}
    assert stored[1] == {"id": "u1", "email": "Ann@Example.com", "ip_address": "203.0.113.0"}

    rules = {
        "sensitive_keys": ["order_ref"],
        "safe_keys": ["session"],
        "email": "hash",
        "ip": "drop",
    }
    assert api("PUT", privacy_path(team), token=team["admin"].token, json=rules).status == 200
    POLICIES.clear()  # the processor's short cache, expired
    send(processor, pid, {**event, "name": "signup2"})
    stored = db.execute(
        "SELECT properties, user_traits FROM events WHERE project_id = %s AND name = 'signup2'",
        (pid,),
    ).fetchone()
    assert stored is not None
    key = install_secret(db, PRIVACY_HASH_KEY)
    assert stored[0] == {"order_ref": "[Filtered]", "session": "s-1", "password": "[Filtered]"}
    assert stored[1] == {"id": "u1", "email": hash_email(key, "ann@example.com")}


def error(user: dict[str, Any], message_text: str = "boom") -> dict[str, Any]:
    return {
        "type": "error",
        "name": "ValueError",
        "message": message_text,
        "error": {"type": "ValueError", "value": message_text},
        "user": user,
    }


def issue_counts(db: psycopg.Connection, pid: UUID) -> tuple[int, int]:
    row = db.execute("SELECT events, users FROM issues WHERE project_id = %s", (pid,)).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def test_deleting_a_user_by_email_is_a_background_job_that_fixes_the_counts(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection, processor: BatchProcessor
) -> None:
    pid = team["pid"]
    ann = {"id": "ann@example.com", "email": "ann@example.com"}
    bob = {"id": "bob", "email": "bob@example.com"}
    send(processor, pid, error(ann), error(ann), error(bob), {"name": "click", "user": ann})
    assert issue_counts(db, pid) == (3, 2)

    path = f"/api/projects/{pid}/privacy/users"
    assert (
        api("DELETE", path, token=team["member"].token, query="email=ann@example.com").status == 403
    )
    bad = api("DELETE", path, token=team["admin"].token, query="email=not-an-address")
    assert bad.status == 422 and bad.error["field"] == "query.email"
    both = api("DELETE", path, token=team["admin"].token, query="email=a@b.co&user_id=x")
    assert both.status == 422 and both.error["field"] == "query.user_id"

    reply = api("DELETE", path, token=team["admin"].token, query="email=Ann@Example.com")
    assert reply.status == 202, reply.body
    job = reply.body
    assert job["status"] == "queued"
    job_path = f"/api/organizations/{team['org']}/privacy/jobs/{job['id']}"
    assert api("GET", job_path, token=team["admin"].token).body["status"] == "queued"
    # Nothing is deleted until the background run takes the job.
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", pid) == 4

    # What the scheduled function does every minute (for this job only: the database is shared).
    assert run_pending(db, job_id=UUID(job["id"])) == 1
    done = api("GET", job_path, token=team["admin"].token).body
    assert done["status"] == "done"
    assert done["result"]["events"] == 3
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", pid) == 1
    assert issue_counts(db, pid) == (1, 1)
    assert (
        count_rows(
            db,
            "SELECT count(*) FROM user_rollups_1m WHERE project_id = %s AND user_id = %s",
            pid,
            "ann@example.com",
        )
        == 0
    )
    # The subject is forgotten once done; the audit log has the request and the deletion.
    assert db.execute(
        "SELECT subject FROM privacy_jobs WHERE id = %s", (job["id"],)
    ).fetchone() == (None,)
    actions = [
        r[0]
        for r in db.execute(
            "SELECT action FROM audit_log WHERE target_id = %s ORDER BY id", (job["id"],)
        ).fetchall()
    ]
    assert actions == ["privacy.user_deletion_requested", "privacy.user_deleted"]
    assert "ann@" not in str(
        db.execute("SELECT details FROM audit_log WHERE target_id = %s", (job["id"],)).fetchall()
    )


def test_deleting_across_the_organization_finds_hashed_addresses(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection, processor: BatchProcessor
) -> None:
    pid = team["pid"]
    other = api(
        "POST",
        "/api/projects",
        token=team["owner"].token,
        json={"organization_id": str(team["org"]), "name": "blog"},
    ).body
    api("PUT", privacy_path(team), token=team["admin"].token, json={"email": "hash"})
    POLICIES.clear()
    ann = {"id": "ann@example.com", "email": "ann@example.com"}
    send(processor, pid, error(ann))
    send(processor, UUID(other["id"]), error(ann), error({"id": "carl"}))
    stored = db.execute("SELECT user_id FROM events WHERE project_id = %s", (pid,)).fetchone()
    assert stored is not None and stored[0].startswith("email:")

    exported = api(
        "GET",
        f"/api/organizations/{team['org']}/privacy/users/export",
        token=team["admin"].token,
        query="email=ann@example.com",
    )
    assert exported.status == 200
    body = exported.body if isinstance(exported.body, dict) else orjson.loads(exported.body)
    assert body["organization_id"] == str(team["org"])
    assert sorted(item["project_id"] for item in body["items"]) == sorted([str(pid), other["id"]])
    reply = api(
        "DELETE",
        f"/api/organizations/{team['org']}/privacy/users",
        token=team["owner"].token,
        query="email=ann@example.com",
    )
    assert reply.status == 202
    run_pending(db, job_id=UUID(reply.body["id"]))
    assert (
        count_rows(
            db, "SELECT count(*) FROM events WHERE project_id = ANY(%s)", [pid, UUID(other["id"])]
        )
        == 1
    )
    jobs = api("GET", f"/api/organizations/{team['org']}/privacy/jobs", token=team["admin"].token)
    assert [j["status"] for j in jobs.body] == ["done"]
    assert (
        api(
            "GET", f"/api/organizations/{team['org']}/privacy/jobs", token=team["member"].token
        ).status
        == 403
    )


def test_exports_stream_csv_and_json(
    api: ApiCaller, team: dict[str, Any], processor: BatchProcessor
) -> None:
    pid = team["pid"]
    send(
        processor,
        pid,
        *[
            {"name": f"e{i}", "user": {"id": "u1" if i % 2 else "u2"}, "properties": {"n": i}}
            for i in range(7)
        ],
        error({"id": "u1"}),
    )
    now = datetime.now(UTC)
    window = (
        f"from={(now - timedelta(hours=1)).isoformat()}&to={(now + timedelta(hours=1)).isoformat()}"
    )
    window = window.replace("+", "%2B")
    events = api(
        "GET",
        f"/api/projects/{pid}/export/events",
        token=team["viewer"].token,
        query=window + "&format=csv",
    )
    assert events.status == 403  # bulk export needs the member role
    events = api(
        "GET",
        f"/api/projects/{pid}/export/events",
        token=team["member"].token,
        query=window + "&format=csv",
    )
    assert events.status == 200
    assert events.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(events.body)))
    assert len(rows) == 8
    assert {r["name"] for r in rows} >= {"e0", "e6", "ValueError"}
    assert {orjson.loads(r["properties"]).get("n") for r in rows} == {*range(7), None}

    issues = api(
        "GET", f"/api/projects/{pid}/export/issues", token=team["member"].token, query=window
    )
    assert issues.status == 200
    assert len(issues.body) == 1
    assert issues.body[0]["events"] == 1

    missing = api("GET", f"/api/projects/{pid}/export/events", token=team["member"].token)
    assert missing.status == 422 and missing.error["field"] == "query.from"

    user = api(
        "GET",
        f"/api/projects/{pid}/privacy/users/export",
        token=team["admin"].token,
        query="user_id=u1",
    )
    assert user.status == 200
    body = user.body if isinstance(user.body, dict) else orjson.loads(user.body)
    assert body["user_id"] == "u1"
    assert len(body["items"]) == 4
    assert all(item["user_id"] == "u1" for item in body["items"])
    assert (
        api(
            "GET",
            f"/api/projects/{pid}/privacy/users/export",
            token=team["member"].token,
            query="user_id=u1",
        ).status
        == 403
    )


def test_another_tenant_sees_nothing(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    stranger = make_member(db, make_organization(db), "owner")
    assert api("GET", privacy_path(team), token=stranger.token).status == 404
    assert (
        api(
            "DELETE",
            f"/api/projects/{team['pid']}/privacy/users",
            token=stranger.token,
            query="user_id=x",
        ).status
        == 404
    )
    job_path = f"/api/organizations/{team['org']}/privacy/jobs/{uuid.uuid4()}"
    assert api("GET", job_path, token=stranger.token).status == 404


def test_the_cli_deletes_a_user_at_once_and_audits_it(
    team: dict[str, Any], db: psycopg.Connection, database_url: str, processor: BatchProcessor
) -> None:
    pid = team["pid"]
    send(processor, pid, error({"id": "zoe"}), error({"id": "yann"}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
    env.update(RUNTIME_ENV, LOGSIGHT_DATABASE_URL=database_url)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "logsight.cli",
            "privacy",
            "delete-user",
            "--project",
            str(pid),
            "--user-id",
            "zoe",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "status   done" in done.stdout
    assert '"events": 1' in done.stdout
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", pid) == 1
    assert issue_counts(db, pid) == (1, 1)
    assert (
        count_rows(
            db,
            "SELECT count(*) FROM audit_log WHERE action = 'privacy.user_deleted'"
            " AND organization_id = %s",
            team["org"],
        )
        == 1
    )
    refused = subprocess.run(
        [sys.executable, "-m", "logsight.cli", "privacy", "delete-user", "--project", str(pid)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2 and "--user-id" in refused.stderr


def test_the_processor_reads_changed_rules_after_its_cache_time(
    team: dict[str, Any], db: psycopg.Connection
) -> None:
    now = [0.0]
    cache = PolicyCache(ttl=10, clock=lambda: now[0])
    pid = team["pid"]
    first = cache.scrubbers(db, [pid])[pid]
    assert first.settings == PrivacySettings()
    save_privacy_settings(db, pid, PrivacySettings(email=EmailMode.HASH))
    assert cache.scrubbers(db, [pid])[pid] is first  # within the cache time
    now[0] = 11
    second = cache.scrubbers(db, [pid])[pid]
    assert second.settings.email is EmailMode.HASH
    now[0] = 22
    assert cache.scrubbers(db, [pid])[pid] is second  # unchanged: kept, with its caches


def test_dead_letters_recorded_before_scrubbing_are_scrubbed_by_the_cli(
    team: dict[str, Any], db: psycopg.Connection, database_url: str
) -> None:
    pid = team["pid"]
    old = orjson.dumps(
        {"v": 7, "project_id": str(pid), "events": [{"properties": {"token": "t-old-1"}}]}
    )
    twin = orjson.dumps(
        {"v": 7, "project_id": str(pid), "events": [{"properties": {"token": "t-old-2"}}]}
    )
    for raw in (old, twin):  # as an earlier release recorded them
        db.execute(
            "INSERT INTO dead_letters (digest, project_id, source, reason, raw, details)"
            " VALUES (%s, %s, 'q', 'old', %s, '{}')",
            (hashlib.sha256(raw).digest(), pid, raw),
        )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
    env.update(RUNTIME_ENV, LOGSIGHT_DATABASE_URL=database_url)
    done = subprocess.run(
        [sys.executable, "-m", "logsight.cli", "privacy", "scrub-dead-letters"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    rows = db.execute("SELECT raw FROM dead_letters WHERE project_id = %s", (pid,)).fetchall()
    # Both become the same bytes: one letter is kept.
    assert [orjson.loads(r[0])["events"] for r in rows] == [
        [{"properties": {"token": "[Filtered]"}}]
    ]


def test_the_scheduled_function_carries_out_waiting_jobs(
    api: ApiCaller,
    team: dict[str, Any],
    db: psycopg.Connection,
    processor: BatchProcessor,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.alerts import handler as scheduled
    from logsight.local.payloads import scheduled_event

    pid = team["pid"]
    send(processor, pid, error({"id": "walt"}))
    job = api(
        "DELETE",
        f"/api/projects/{pid}/privacy/users",
        token=team["admin"].token,
        query="user_id=walt",
    ).body
    monkeypatch.setattr(scheduled, "get_settings", lambda: settings)
    monkeypatch.setattr(scheduled, "_redriver", None)
    monkeypatch.setattr(scheduled, "_alerts", None)
    # Each run carries out up to ten waiting jobs, oldest first; jobs other tests queued in
    # this shared database may come before this one.
    for _ in range(100):
        result = scheduled.handler(scheduled_event("logsight-alerts"), None)
        assert result["privacy_jobs"] >= 1
        status = api(
            "GET",
            f"/api/organizations/{team['org']}/privacy/jobs/{job['id']}",
            token=team["admin"].token,
        ).body
        if status["status"] != "queued":
            break
    assert status["status"] == "done" and status["result"]["events"] == 1
