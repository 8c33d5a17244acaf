"""Ingest health through the API: stored events, refusals and other outcomes over time, dead
letters by reason (admins), and the queues read from a real broker — or null when it cannot be
reached, never a 500."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import amqp
import orjson
import psycopg
import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.queue.connection import close_quietly, connect
from logsight.storage import outcomes
from logsight.storage.outcomes import Outcome, RateLimitedKey
from tests.conftest import create_vhost, delete_vhost
from tests.support.api import ApiCaller, Reply
from tests.support.processor import rmq_event
from tests.support.query import QUEUE, ROLES, Org, api_with, event, ingest

# Fixtures: processor, org, other, queues.
pytest_plugins = ["tests.support.query"]

DAY = "2026-11-20T"
RANGE = {"from": DAY + "10:00:00Z", "to": DAY + "13:00:00Z", "bucket": "1h"}


@pytest.fixture
def api(database_url: str, queues: str) -> Iterator[ApiCaller]:
    api = api_with(database_url, queues)
    yield api
    api.close()


def health(api: ApiCaller, org: Org, role: str = "admin", **params: Any) -> Reply:
    query = urlencode({**RANGE, **params})
    return api("GET", org.path("/ingest/health"), token=org.members[role].token, query=query)


def minute(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def traffic(processor: BatchProcessor, org: Org, db: psycopg.Connection) -> Org:
    """Stored: 3 events at 10:xx, 1 at 12:xx. Refused by the per-minute quota: 5 at 10:30 and
    2 at 12:01, by the monthly one 4 at 12:02. Dropped by a Sentry client: 7 errors at 11:15.
    Dead-lettered: one message that is not an event message."""
    specs = [
        event(DAY + "10:05:00Z", "signup"),
        event(DAY + "10:06:00Z", "signup"),
        event(DAY + "10:59:59Z", "login"),
        event(DAY + "12:30:00Z", "login"),
    ]
    assert ingest(processor, org.project_id, specs) == 4
    outcomes.add_rate_limited(
        db,
        {
            RateLimitedKey(org.project_id, minute(DAY + "10:30"), "event", "events_per_minute"): 5,
            RateLimitedKey(org.project_id, minute(DAY + "12:01"), "event", "events_per_minute"): 2,
            RateLimitedKey(org.project_id, minute(DAY + "12:02"), "error", "events_per_month"): 4,
        },
    )
    outcomes.record(
        db,
        [
            Outcome(
                org.project_id,
                "request-1",
                minute(DAY + "11:15"),
                "client_discarded",
                "error",
                "ratelimit_backoff",
                7,
            )
        ],
    )
    poison = orjson.dumps({"project_id": str(org.project_id), "junk": True})
    result = processor.process(records_from_event(rmq_event(QUEUE, [poison])))
    assert len(result.dead_letters) == 1
    return org


def test_accepted_refused_and_dropped_over_time(api: ApiCaller, traffic: Org) -> None:
    reply = health(api, traffic)
    assert reply.status == 200, reply.body
    body = reply.body
    assert len(body["buckets"]) == 3
    assert body["accepted"] == {"total": 4, "values": [3, 0, 1]}
    assert body["rate_limited"] == {"total": 11, "values": [5, 0, 6]}
    assert [
        (o["outcome"], o["category"], o["reason"], o["quantity"], o["values"])
        for o in body["outcomes"]
    ] == [
        ("client_discarded", "error", "ratelimit_backoff", 7, [0, 7, 0]),
        ("rate_limited", "event", "events_per_minute", 7, [5, 0, 2]),
        ("rate_limited", "error", "events_per_month", 4, [0, 0, 4]),
    ]


def test_dead_letters_by_reason_for_admins_only(api: ApiCaller, traffic: Org) -> None:
    for role in ROLES:
        body = health(api, traffic, role).body
        if role in ("owner", "admin"):
            letters = body["dead_letters"]
            assert letters["total"] == 1
            (reason,) = letters["reasons"]
            assert reason["letters"] == reason["waiting"] == 1
            # Recorded now, outside the 2026-11-20 range asked for.
            assert reason["in_range"] == 0
            assert reason["reason"]
        else:
            assert body["dead_letters"] is None, role


def test_queue_depth_and_consumers_from_the_broker(
    database_url: str, queues: str, org: Org
) -> None:
    settings = Settings(amqp_url=queues)
    connection = connect(queues, connect_timeout=3, heartbeat=0)
    try:
        channel = connection.channel()
        for i in range(3):
            channel.basic_publish(
                amqp.Message(f"m{i}".encode()), exchange="", routing_key=settings.shard_queue(1)
            )
        channel.basic_publish(
            amqp.Message(b"dead"), exchange="", routing_key=settings.dead_letter_queue
        )
        api = api_with(database_url, queues)
        try:
            queue = health(api, org, "viewer").body["queue"]
        finally:
            api.close()
        for name in (settings.shard_queue(0), settings.shard_queue(1), settings.dead_letter_queue):
            channel.queue_purge(name)
    finally:
        close_quietly(connection)
    assert queue["readable"] is True
    assert queue["queues"] == [
        {"name": settings.shard_queue(0), "messages": 0, "consumers": 0},
        {"name": settings.shard_queue(1), "messages": 3, "consumers": 0},
        {"name": settings.dead_letter_queue, "messages": 1, "consumers": 0},
    ]
    assert queue["waiting"] == 3


def test_a_queue_that_does_not_exist_is_null(database_url: str, org: Org) -> None:
    empty = create_vhost("logsight-health-empty")
    try:
        api = api_with(database_url, empty)
        try:
            queue = health(api, org, "viewer").body["queue"]
        finally:
            api.close()
    finally:
        delete_vhost(empty)
    assert queue["readable"] is True
    assert all(q["messages"] is None and q["consumers"] is None for q in queue["queues"])
    assert queue["waiting"] == 0


def test_an_unreachable_broker_is_null_not_an_error(database_url: str, org: Org) -> None:
    # Nothing listens on port 1 of the loopback: refused at once.
    api = api_with(database_url, "amqp://guest:guest@127.0.0.1:1/")
    try:
        reply = health(api, org, "viewer")
    finally:
        api.close()
    assert reply.status == 200, reply.body
    queue = reply.body["queue"]
    assert queue["readable"] is False and queue["waiting"] is None
    assert [q["name"] for q in queue["queues"]] == [
        "logsight.events.0",
        "logsight.events.1",
        "logsight.events.dead",
    ]
    assert all(q["messages"] is None for q in queue["queues"])


def test_another_organizations_project_is_not_found(api: ApiCaller, org: Org, other: Org) -> None:
    for role in ROLES:
        reply = api("GET", other.path("/ingest/health"), token=org.members[role].token, query="")
        assert reply.status == 404, (role, reply.body)
        assert reply.error["code"] == "not_found"
    random = f"/api/projects/{uuid.uuid4()}/ingest/health"
    assert api("GET", random, token=org.members["owner"].token).status == 404


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"range": "1y"}, "query.range"),
        ({"bucket": "2m"}, "query.bucket"),
        ({"from": DAY + "14:00:00Z"}, "query.to"),
        ({"from": "not a time"}, "query.from"),
        ({"tz": "Nowhere/Else"}, "query.tz"),
        ({"bucket": "1m", "from": "2026-01-01T00:00:00Z"}, "query.bucket"),
    ],
)
def test_bad_parameters_are_422_naming_the_field(
    api: ApiCaller, org: Org, params: dict[str, str], field: str
) -> None:
    reply = health(api, org, "viewer", **params)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field
