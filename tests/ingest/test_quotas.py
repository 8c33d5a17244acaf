"""Ingest quotas on real PostgreSQL and RabbitMQ: per-project events per minute and per month,
per-key events per second, shared by independent ingest processes; 429 with Retry-After (and
X-Sentry-Rate-Limits for Sentry SDKs); refused events counted as rate_limited outcomes."""

from __future__ import annotations

import multiprocessing
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import amqp
import orjson
import psycopg
import pytest

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.ingest.service import IngestService
from logsight.queue.message import decode
from logsight.queue.topology import shard_for
from logsight.storage.keys import create_key
from logsight.storage.projects import CreatedProject, create_project
from logsight.tenancy.quotas import set_project_quotas
from tests.conftest import drain, purge
from tests.support import ingest_worker
from tests.support.ingest import api_request

UNLIMITED = {"events_per_minute": 0, "events_per_month": 0, "key_events_per_second": 0}


@pytest.fixture
def service(settings: Settings, broker: amqp.Channel) -> Iterator[IngestService]:
    purge(broker, settings)
    yield build_ingest_service(settings)
    purge(broker, settings)


def post(
    service: IngestService, key: str, events: int = 1, **kwargs: Any
) -> tuple[int, dict[str, str], Any]:
    body = {"events": [{"name": f"e{n}"} for n in range(events)]}
    response = service.handle(HttpRequest.from_event(api_request(body, key=key, **kwargs)))
    raw = response.to_event()
    return raw["statusCode"], raw["headers"], orjson.loads(raw["body"]) if raw["body"] else None


def queued_events(broker: amqp.Channel, settings: Settings, project: CreatedProject) -> int:
    queue = settings.shard_queue(shard_for(project.id, settings.shards))
    return sum(len(decode(bytes(m.body)).events) for m in drain(broker, queue))


def start_well_inside_a_minute(needed: float) -> float:
    """An epoch time from which ``needed`` seconds stay within one UTC minute."""
    start = time.time() + 0.5
    if start % 60 + needed > 59:
        start += 60 - start % 60 + 0.5
    time.sleep(max(start - time.time(), 0))
    return start


def assert_refused(status: int, headers: dict[str, str], body: Any, quota: str) -> int:
    assert status == 429, body
    assert body["error"]["code"] == "rate_limited"
    assert body["quota"] == quota
    assert headers["retry-after"] == str(body["retry_after"])
    return int(headers["retry-after"])


@pytest.mark.slow
def test_a_minute_quota_holds_across_two_ingest_processes(
    settings: Settings, project: CreatedProject, db: psycopg.Connection, broker: amqp.Channel
) -> None:
    limit = 300
    set_project_quotas(db, project.id, {**UNLIMITED, "events_per_minute": limit})
    purge(broker, settings)
    spawn = multiprocessing.get_context("spawn")
    # Started before the common start time, so interpreter start-up is not part of the run.
    start_at = time.time() + 8
    if start_at % 60 > 40:
        start_at += 60 - start_at % 60 + 0.5
    with ProcessPoolExecutor(2, mp_context=spawn) as pool:
        runs = [
            pool.submit(
                ingest_worker.run,
                settings.model_dump(),
                project.public_key,
                start_at=start_at,
                threads=3,
                requests=120,
            )
            for _ in range(2)
        ]
        answers = [answer for run in runs for answer in run.result(timeout=120)]
    statuses = Counter(status for status, _, _ in answers)
    assert set(statuses) == {202, 429}, statuses
    # Every slice leased was spent (each process kept sending after being refused), so exactly
    # the limit got through: never more, and none lost to leftovers.
    assert statuses[202] == limit
    assert queued_events(broker, settings, project) == limit
    for status, retry_after, body in answers:
        if status == 429:
            assert body["error"]["code"] == "rate_limited" and body["quota"] == "events_per_minute"
            assert retry_after is not None and 1 <= int(retry_after) <= 60


def test_each_key_has_its_own_rate_limit(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    set_project_quotas(db, project.id, {**UNLIMITED, "key_events_per_second": 20})
    answers = [post(service, project.public_key, 5) for _ in range(10)]
    accepted = sum(5 for status, _, _ in answers if status == 202)
    refused = [a for a in answers if a[0] != 202]
    assert refused, answers
    for status, headers, body in refused:
        assert assert_refused(status, headers, body, "key_events_per_second") == 1
    # Ten requests in well under two seconds: at most two one-second windows' worth.
    assert 5 <= accepted <= 40
    other_key = create_key(db, project.id, label="second")
    assert post(service, other_key, 5)[0] == 202
    # A request larger than the limit can never pass, whatever the window.
    status, headers, body = post(service, other_key, 21)
    assert_refused(status, headers, body, "key_events_per_second")
    assert "smaller batches" in body["error"]["message"]


def test_a_monthly_quota_is_refused_until_the_month_ends(
    service: IngestService,
    settings: Settings,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
) -> None:
    set_project_quotas(db, project.id, {**UNLIMITED, "events_per_month": 25})
    assert post(service, project.public_key, 10)[0] == 202
    assert post(service, project.public_key, 10)[0] == 202
    status, headers, body = post(service, project.public_key, 10)
    retry_after = assert_refused(status, headers, body, "events_per_month")
    now = datetime.now(UTC)
    month_end = (
        now.replace(day=1, hour=0, minute=0, second=0, microsecond=0) + timedelta(days=32)
    ).replace(day=1)
    assert abs(retry_after - (month_end - now).total_seconds()) < 5
    # What is left still fits a smaller request.
    assert post(service, project.public_key, 5)[0] == 202
    # Another environment (its own process state, the same database) knows nothing locally,
    # and is refused all the same.
    other = build_ingest_service(settings)
    assert_refused(*post(other, project.public_key, 1), "events_per_month")
    assert queued_events(broker, settings, project) == 25


def test_limits_of_zero_are_unlimited_and_the_defaults_apply(
    settings: Settings, project: CreatedProject, db: psycopg.Connection, broker: amqp.Channel
) -> None:
    purge(broker, settings)
    tight = build_ingest_service(
        settings.model_copy(update={"project_events_per_minute": 0, "key_events_per_second": 3})
    )
    assert_refused(*post(tight, project.public_key, 4), "key_events_per_second")
    set_project_quotas(db, project.id, {"key_events_per_second": 0})
    assert post(tight, project.public_key, 400)[0] == 202


def test_refused_events_are_counted_as_rate_limited_outcomes(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    set_project_quotas(db, project.id, {**UNLIMITED, "events_per_minute": 10})
    start_well_inside_a_minute(10)
    assert post(service, project.public_key, 10)[0] == 202
    assert post(service, project.public_key, 3)[0] == 429
    assert post(service, project.public_key, 4)[0] == 429
    # Counts are written at most once a second, with the next refusal or lease.
    time.sleep(1.1)
    assert post(service, project.public_key, 5)[0] == 429
    time.sleep(1.1)
    assert post(service, project.public_key, 6)[0] == 429
    rows = db.execute(
        "SELECT outcome, category, reason, quantity, request_id FROM ingest_outcomes"
        " WHERE project_id = %s",
        (project.id,),
    ).fetchall()
    assert [r[:4] for r in rows] == [("rate_limited", "event", "events_per_minute", 12)]
    assert rows[0][4].startswith("rate_limited/")


def test_a_project_deleted_meanwhile_does_not_lose_the_other_counts(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    doomed = create_project(db, f"doomed {uuid.uuid4().hex[:6]}")
    for victim in (project, doomed):
        set_project_quotas(db, victim.id, {**UNLIMITED, "key_events_per_second": 1})
        assert post(service, victim.public_key, 2)[0] == 429
    db.execute("DELETE FROM projects WHERE id = %s", (doomed.id,))
    # Counts go out with the next refusal a second later or more; these two write the others.
    for refused in (3, 4):
        time.sleep(1.1)
        assert post(service, project.public_key, refused)[0] == 429
    rows = db.execute(
        "SELECT project_id, quantity FROM ingest_outcomes WHERE outcome = 'rate_limited'"
        " AND project_id = ANY(%s)",
        ([project.id, doomed.id],),
    ).fetchall()
    assert rows == [(project.id, 5)]


def test_a_deleted_projects_cached_key_leaves_the_other_quotas_alone(
    settings: Settings, project: CreatedProject, db: psycopg.Connection, broker: amqp.Channel
) -> None:
    purge(broker, settings)
    caching = build_ingest_service(settings.model_copy(update={"key_cache_seconds": 60}))
    doomed = create_project(db, f"doomed {uuid.uuid4().hex[:6]}")
    set_project_quotas(db, doomed.id, {**UNLIMITED, "events_per_minute": 100})
    assert post(caching, doomed.public_key)[0] == 202
    db.execute("DELETE FROM projects WHERE id = %s", (doomed.id,))
    # Its key is still trusted (cached); its counters are gone and cannot be leased from.
    assert post(caching, doomed.public_key, 5)[0] == 202
    set_project_quotas(db, project.id, {**UNLIMITED, "key_events_per_second": 1})
    assert_refused(*post(caching, project.public_key, 2), "key_events_per_second")
    purge(broker, settings)


# -- the Sentry protocol -------------------------------------------------------------------------

RATE_LIMITS = re.compile(r"^(\d+):default;error;log_item:(project|key):([a-z_]+)$")


def sentry_post(
    service: IngestService, project: CreatedProject, number: int, *items: bytes
) -> tuple[int, dict[str, str], Any]:
    body = b"\n".join([b"{}", *items]) + b"\n"
    event = api_request(
        raw=body,
        path=f"/api/{number}/envelope/",
        content_type=None,
        headers={"x-sentry-auth": f"Sentry sentry_version=7, sentry_key={project.public_key}"},
    )
    response = service.handle(HttpRequest.from_event(event)).to_event()
    text = response["body"]
    return response["statusCode"], response["headers"], orjson.loads(text) if text else None


EVENT = b'{"type":"event"}\n' + orjson.dumps({"level": "error", "message": "boom"})
SESSION = b'{"type":"session"}\n{"sid":"1","status":"ok"}'


def logs(count: int) -> bytes:
    records = [{"timestamp": time.time(), "level": "info", "body": f"l{n}"} for n in range(count)]
    return b'{"type":"log","item_count":%d}\n' % count + orjson.dumps({"items": records})


def test_sentry_sdks_are_told_which_categories_to_pause(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    number = int(
        db.execute("SELECT number FROM projects WHERE id = %s", (project.id,)).fetchone()[0]
    )  # type: ignore[index]
    set_project_quotas(db, project.id, {**UNLIMITED, "events_per_minute": 3})
    start_well_inside_a_minute(10)
    status, headers, body = sentry_post(service, project, number, EVENT)
    assert status == 200 and "id" in body
    assert "retry-after" not in headers and "x-sentry-rate-limits" not in headers
    status, headers, body = sentry_post(service, project, number, EVENT, logs(2))
    assert status == 429
    assert set(body) == {"detail"} and headers["x-sentry-error"] == body["detail"]
    match = RATE_LIMITS.match(headers["x-sentry-rate-limits"])
    assert match is not None, headers
    assert match.group(1) == headers["retry-after"] and 1 <= int(match.group(1)) <= 60
    assert match.group(2, 3) == ("project", "events_per_minute")
    # Sessions are not counted, so they are never refused.
    assert sentry_post(service, project, number, SESSION)[0] == 200
    # The key's own limit names the key as the scope.
    set_project_quotas(db, project.id, {**UNLIMITED, "key_events_per_second": 1})
    status, headers, _ = sentry_post(service, project, number, logs(2))
    assert status == 429
    match = RATE_LIMITS.match(headers["x-sentry-rate-limits"])
    assert match is not None and match.group(2, 3) == ("key", "key_events_per_second")
