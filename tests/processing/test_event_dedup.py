"""A client retry that resends an event id without a timestamp is stored once.

Ingest stamps such an event with the time it received the request, so the retry carries another
timestamp than the first attempt and the primary key (project, timestamp, event id) cannot see the
repeat; the processor looks the id up within the dedup window instead (real PostgreSQL).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage.db import Database
from logsight.storage.projects import CreatedProject
from tests.support.processor import message, rmq_event

QUEUE = "logsight.events.0"


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    yield BatchProcessor(db, "logsight.events.dead")
    db.reset()


def process(processor: BatchProcessor, *bodies: bytes, redelivered: bool = False) -> int:
    outcome = processor.process(
        records_from_event(rmq_event(QUEUE, list(bodies), redelivered=redelivered))
    )
    assert not outcome.dead_letters
    return outcome.inserted


def crash(event_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "error",
        "error": {"type": "ValueError", "message": "cart is invalid"},
        "user": {"id": "u1"},
        **extra,
    }


def stored(conn: psycopg.Connection, project: UUID) -> dict[str, Any]:
    """Rows and every counter derived from them."""
    return {
        "events": conn.execute(
            "SELECT event_id, timestamp FROM events WHERE project_id = %s ORDER BY 1, 2",
            (project,),
        ).fetchall(),
        "rollup_events": conn.execute(
            "SELECT coalesce(sum(events), 0) FROM event_rollups_1m WHERE project_id = %s",
            (project,),
        ).fetchone(),
        "hourly_events": conn.execute(
            "SELECT coalesce(sum(events), 0) FROM event_rollups_1h WHERE project_id = %s",
            (project,),
        ).fetchone(),
        "issues": conn.execute(
            "SELECT events, users FROM issues WHERE project_id = %s", (project,)
        ).fetchall(),
    }


def test_a_retry_without_timestamps_is_stored_once_and_counted_once(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    event_id = str(uuid.uuid4())
    first_try = datetime.now(UTC) - timedelta(seconds=30)
    original = message(project.id, crash(event_id), received_at=first_try)
    retry = message(project.id, crash(event_id), received_at=first_try + timedelta(seconds=12))
    assert process(processor, original) == 1
    assert process(processor, retry) == 0
    after = stored(db, project.id)
    assert after["events"] == [(UUID(event_id), first_try)]
    assert after["rollup_events"] == (1,) and after["hourly_events"] == (1,)
    assert after["issues"] == [(1, 1)]
    # Both messages delivered again, together: still nothing new.
    assert process(processor, original, retry, redelivered=True) == 0
    assert stored(db, project.id) == after


def test_repeats_within_one_batch_are_stored_once(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    bodies = [
        message(project.id, crash(event_id), received_at=now - timedelta(seconds=s))
        for s in (3, 2, 1)
    ]
    assert process(processor, *bodies) == 1
    after = stored(db, project.id)
    assert len(after["events"]) == 1
    assert after["rollup_events"] == (1,) and after["issues"] == [(1, 1)]


def test_a_retry_arriving_first_keeps_the_first_stored(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    # The original request was still being published when the client's retry overtook it.
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    assert process(processor, message(project.id, crash(event_id), received_at=now)) == 1
    late_original = message(project.id, crash(event_id), received_at=now - timedelta(seconds=8))
    assert process(processor, late_original) == 0
    assert stored(db, project.id)["events"] == [(UUID(event_id), now)]


def test_a_retried_clamped_timestamp_is_stored_once(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    # A timestamp older than the clamp is moved to received - 30 days: it too moves with a retry.
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    too_old = (now - timedelta(days=90)).isoformat()
    for seconds in (20, 5):
        process(
            processor,
            message(
                project.id,
                crash(event_id, timestamp=too_old),
                received_at=now - timedelta(seconds=seconds),
            ),
        )
    assert len(stored(db, project.id)["events"]) == 1


def test_events_keeping_their_own_timestamp_are_left_to_the_primary_key(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    # A client that sends timestamps is deduplicated by the key (same id and time), and an id
    # sent again with another time of its own is its business: both are kept, as before.
    event_id = str(uuid.uuid4())
    now = datetime.now(UTC).replace(microsecond=0)
    first = message(project.id, crash(event_id, timestamp=(now - timedelta(minutes=2)).isoformat()))
    other = message(project.id, crash(event_id, timestamp=(now - timedelta(minutes=1)).isoformat()))
    assert process(processor, first) == 1
    assert process(processor, first, redelivered=True) == 0
    assert process(processor, other) == 1


def test_a_repeat_outside_the_window_is_stored_again(
    database_url: str, project: CreatedProject, db: psycopg.Connection
) -> None:
    # The window is a setting (LOGSIGHT_DEDUP_WINDOW_HOURS); beyond it a repeat is a new event.
    database = Database(database_url)
    processor = BatchProcessor(database, "logsight.events.dead", dedup_window=timedelta(hours=1))
    try:
        event_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        inside = [now - timedelta(minutes=m) for m in (150, 100)]
        for received in inside:
            process(processor, message(project.id, crash(event_id), received_at=received))
        assert len(stored(db, project.id)["events"]) == 1
        process(processor, message(project.id, crash(event_id), received_at=now))
        assert len(stored(db, project.id)["events"]) == 2
    finally:
        database.reset()
