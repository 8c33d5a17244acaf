"""Replaying a dead letter through the API: to its shard queue on a real broker, marked, audited,
for admins only, never another tenant's, and a 503 (not a 500) when the broker is away."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import psycopg
import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.queue.connection import close_quietly, connect
from logsight.queue.message import decode
from logsight.queue.topology import shard_for
from tests.conftest import drain
from tests.support.api import ApiCaller, Reply
from tests.support.processor import message, rmq_event
from tests.support.query import DLQ, ROLES, Org, api_with, event

# Fixtures: processor, org, other, queues.
pytest_plugins = ["tests.support.query"]


@pytest.fixture
def api(database_url: str, queues: str) -> Iterator[ApiCaller]:
    api = api_with(database_url, queues)
    yield api
    api.close()


def letter(processor: BatchProcessor, db: psycopg.Connection, org: Org, raw: bytes) -> int:
    """A message that ran out of deliveries, as the dead-letter queue's consumer records it."""
    record = rmq_event(DLQ, [raw], headers={"x-first-death-reason": "delivery_limit"})
    outcome = processor.process(records_from_event(record))
    assert len(outcome.dead_letters) == 1
    row = db.execute(
        "SELECT id FROM dead_letters WHERE project_id = %s ORDER BY id DESC LIMIT 1",
        (org.project_id,),
    ).fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def good(processor: BatchProcessor, db: psycopg.Connection, org: Org) -> int:
    return letter(processor, db, org, message(org.project_id, event("2026-11-20T10:00:00Z")))


def replay(api: ApiCaller, org: Org, letter_id: int, role: str = "admin") -> Reply:
    return api("POST", org.path(f"/dead-letters/{letter_id}/replay"), token=org.members[role].token)


def test_an_admin_sends_a_letter_back_to_its_shard(
    api: ApiCaller, queues: str, org: Org, good: int, db: psycopg.Connection
) -> None:
    settings = Settings(amqp_url=queues)
    reply = replay(api, org, good)
    assert reply.status == 200, reply.body
    assert reply.body["replayed"] is True and reply.body["replayed_at"] is not None
    connection = connect(queues, connect_timeout=3, heartbeat=0)
    try:
        queue = settings.shard_queue(shard_for(org.project_id, settings.shards))
        (sent,) = drain(connection.channel(), queue)
    finally:
        close_quietly(connection)
    assert decode(sent.body).project_id == org.project_id
    assert sent.headers["x-logsight-replay"] == good
    # Marked and audited; a second request sends nothing more.
    again = replay(api, org, good)
    assert again.status == 200 and again.body["replayed"] is False
    rows = db.execute(
        "SELECT action, actor_user_id, target_id FROM audit_log"
        " WHERE organization_id = %s AND action = 'dead_letter.replayed'",
        (org.organization_id,),
    ).fetchall()
    assert rows == [("dead_letter.replayed", org.members["admin"].user_id, str(good))]


def test_a_letter_that_is_no_logsight_message_is_not_replayed(
    api: ApiCaller, processor: BatchProcessor, db: psycopg.Connection, org: Org
) -> None:
    junk = letter(processor, db, org, orjson.dumps({"project_id": str(org.project_id)}))
    reply = replay(api, org, junk)
    assert reply.status == 200, reply.body
    assert reply.body["replayed"] is False and reply.body["replayed_at"] is None


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_below_admin_is_forbidden(api: ApiCaller, org: Org, good: int, role: str) -> None:
    reply = replay(api, org, good, role)
    assert reply.status == 403 and reply.error["code"] == "forbidden"


def test_another_organizations_letter_is_not_found(
    api: ApiCaller, org: Org, other: Org, good: int
) -> None:
    for role in ROLES:
        for path in (
            org.path(f"/dead-letters/{good}/replay"),
            other.path(f"/dead-letters/{good}/replay"),
        ):
            reply = api("POST", path, token=other.members[role].token)
            expected = (
                403 if role in ("member", "viewer") and path.startswith(other.path()) else 404
            )
            assert reply.status == expected, (role, path, reply.body)


@pytest.mark.parametrize(
    ("letter_id", "status"), [("0", 422), ("x", 422), (str(2**63), 422), ("999999999", 404)]
)
def test_bad_ids(api: ApiCaller, org: Org, letter_id: str, status: int) -> None:
    reply = api(
        "POST", org.path(f"/dead-letters/{letter_id}/replay"), token=org.members["admin"].token
    )
    assert reply.status == status, reply.body
    if status == 422:
        assert reply.error["field"] == "path.dead_letter_id"


def test_an_unreachable_broker_is_503_and_the_letter_waits(
    database_url: str, org: Org, good: int, db: psycopg.Connection
) -> None:
    api = api_with(database_url, "amqp://guest:guest@127.0.0.1:1/")
    try:
        reply = replay(api, org, good)
    finally:
        api.close()
    assert reply.status == 503, reply.body
    assert reply.error["code"] == "broker_unavailable"
    assert reply.headers["retry-after"]
    row = db.execute("SELECT replayed_at FROM dead_letters WHERE id = %s", (good,)).fetchone()
    assert row == (None,)
