"""A project's quotas through the API (every member reads, admins change, audited), and refused
requests visible as rate_limited outcomes in the API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import amqp
import psycopg
import pytest

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage.db import Database
from tests.conftest import purge
from tests.support.api import ApiCaller, Member, make_member, make_organization, make_team
from tests.support.ingest import api_request
from tests.support.processor import message, rmq_event

ROLES = ("owner", "admin", "member", "viewer")


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    return make_team(api, db)


def quotas(team: dict[str, Any]) -> str:
    return f"/api/projects/{team['project']['id']}/quotas"


def test_every_member_reads_the_quotas_in_force(
    api: ApiCaller, team: dict[str, Any], settings: Settings
) -> None:
    for role in ROLES:
        reply = api("GET", quotas(team), token=team[role].token)
        assert reply.status == 200, reply.body
        assert reply.body == {
            "events_per_minute": settings.project_events_per_minute,
            "events_per_month": settings.project_events_per_month,
            "key_events_per_second": settings.key_events_per_second,
            "project": {
                "events_per_minute": None,
                "events_per_month": None,
                "key_events_per_second": None,
            },
            "defaults": {
                "events_per_minute": settings.project_events_per_minute,
                "events_per_month": settings.project_events_per_month,
                "key_events_per_second": settings.key_events_per_second,
            },
        }


def audit(db: psycopg.Connection, team: dict[str, Any]) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT action, actor_user_id, target_id, details FROM audit_log"
        " WHERE organization_id = %s AND action = 'project.quotas_updated' ORDER BY id",
        (team["org"],),
    ).fetchall()


def test_admins_change_quotas_and_it_is_audited(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection, settings: Settings
) -> None:
    admin: Member = team["admin"]
    changed = api(
        "PATCH",
        quotas(team),
        token=admin.token,
        json={"events_per_minute": 100, "events_per_month": 0},
    )
    assert changed.status == 200, changed.body
    assert changed.body["events_per_minute"] == 100
    assert changed.body["events_per_month"] == 0
    assert changed.body["key_events_per_second"] == settings.key_events_per_second
    assert changed.body["project"] == {
        "events_per_minute": 100,
        "events_per_month": 0,
        "key_events_per_second": None,
    }
    # Only what the body names changes; null goes back to the default.
    again = api("PATCH", quotas(team), token=team["owner"].token, json={"events_per_minute": None})
    assert again.body["project"]["events_per_minute"] is None
    assert again.body["project"]["events_per_month"] == 0
    assert again.body["events_per_minute"] == settings.project_events_per_minute
    assert api("PATCH", quotas(team), token=admin.token, json={}).status == 200
    assert audit(db, team) == [
        (
            "project.quotas_updated",
            admin.user_id,
            team["project"]["id"],
            {"events_per_minute": 100, "events_per_month": 0},
        ),
        (
            "project.quotas_updated",
            team["owner"].user_id,
            team["project"]["id"],
            {"events_per_minute": None},
        ),
    ]


def test_members_viewers_and_read_only_tokens_cannot_change_quotas(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    for role in ("member", "viewer"):
        denied = api("PATCH", quotas(team), token=team[role].token, json={"events_per_minute": 1})
        assert (denied.status, denied.error["code"]) == (403, "forbidden")
    read_only = make_member(db, team["org"], "admin", scope="read")
    denied = api("PATCH", quotas(team), token=read_only.token, json={"events_per_minute": 1})
    assert (denied.status, denied.error["code"]) == (403, "insufficient_scope")
    assert api("GET", quotas(team), token=read_only.token).status == 200
    assert audit(db, team) == []


def test_invalid_quotas_and_other_tenants(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    bad = api("PATCH", quotas(team), token=team["admin"].token, json={"events_per_month": -1})
    assert bad.status == 422
    assert bad.error["code"] == "invalid_field"
    assert bad.error["field"] == "body.events_per_month"
    stranger = make_member(db, make_organization(db), "owner")
    assert api("GET", quotas(team), token=stranger.token).status == 404
    assert (
        api("PATCH", quotas(team), token=stranger.token, json={"events_per_minute": 1}).status
        == 404
    )


def test_refused_requests_show_as_rate_limited_outcomes(
    api: ApiCaller,
    team: dict[str, Any],
    settings: Settings,
    broker: amqp.Channel,
) -> None:
    project = team["project"]
    limited = api(
        "PATCH", quotas(team), token=team["admin"].token, json={"key_events_per_second": 2}
    )
    assert limited.status == 200
    purge(broker, settings)
    ingest = build_ingest_service(settings)

    def send(events: int) -> int:
        body = {"events": [{"name": "x"}] * events}
        request = HttpRequest.from_event(api_request(body, key=project["ingest_key"]))
        return ingest.handle(request).status

    # Larger than the limit: refused whatever the second; written with a refusal a second on.
    assert [send(3), send(4)] == [429, 429]
    time.sleep(1.1)
    assert send(5) == 429
    purge(broker, settings)
    reply = api("GET", f"/api/projects/{project['id']}/stats/outcomes", token=team["viewer"].token)
    assert reply.status == 200, reply.body
    assert reply.body["data"] == [
        {
            "outcome": "rate_limited",
            "category": "event",
            "reason": "key_events_per_second",
            "quantity": 7,
        }
    ]
    empty = api(
        "GET",
        f"/api/projects/{project['id']}/stats/outcomes",
        token=team["viewer"].token,
        query="from=2020-01-01T00:00:00Z&to=2020-01-02T00:00:00Z",
    )
    assert (empty.status, empty.body["data"]) == (200, [])


def test_a_monthly_quota_set_mid_month_counts_what_came_before(
    api: ApiCaller,
    team: dict[str, Any],
    settings: Settings,
    broker: amqp.Channel,
    database_url: str,
) -> None:
    project = team["project"]
    processor = BatchProcessor(Database(database_url), "logsight.events.dead")
    stored = message(UUID(project["id"]), *({"name": f"before {n}"} for n in range(20)))
    assert processor.process(records_from_event(rmq_event("q", [stored]))).inserted == 20
    limited = api("PATCH", quotas(team), token=team["admin"].token, json={"events_per_month": 25})
    assert limited.status == 200
    purge(broker, settings)
    ingest = build_ingest_service(settings)

    def send(events: int) -> int:
        body = {"events": [{"name": "after"}] * events}
        request = HttpRequest.from_event(api_request(body, key=project["ingest_key"]))
        return ingest.handle(request).status

    assert [send(10), send(5), send(1)] == [429, 202, 429]
    purge(broker, settings)
