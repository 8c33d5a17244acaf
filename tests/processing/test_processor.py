"""The processor function on real PostgreSQL: set-based writes, idempotency, dead letters."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import header_text, records_from_event
from logsight.storage.db import Database
from logsight.storage.mode import StorageMode
from logsight.storage.projects import CreatedProject
from tests.conftest import count_rows
from tests.support.processor import AWS_EXAMPLE, message, rmq_event

QUEUE = "logsight.events.0"
DLQ = "logsight.events.dead"


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    yield BatchProcessor(db, DLQ)
    db.reset()


def run(processor: BatchProcessor, event: dict[str, Any]) -> Any:
    return processor.process(records_from_event(event))


def snapshot(conn: psycopg.Connection, project_id: uuid.UUID) -> dict[str, Any]:
    return {
        "events": conn.execute(
            "SELECT event_id, name, timestamp FROM events WHERE project_id = %s ORDER BY event_id",
            (project_id,),
        ).fetchall(),
        "rollups": conn.execute(
            "SELECT bucket, type, name, level, events FROM event_rollups_1m"
            " WHERE project_id = %s ORDER BY 1, 2, 3, 4",
            (project_id,),
        ).fetchall(),
        "users": conn.execute(
            "SELECT bucket, user_id FROM user_rollups_1m WHERE project_id = %s ORDER BY 1, 2",
            (project_id,),
        ).fetchall(),
        "dead": conn.execute(
            "SELECT reason, raw FROM dead_letters WHERE project_id = %s ORDER BY id", (project_id,)
        ).fetchall(),
    }


def test_the_documented_aws_event_shape() -> None:
    records = records_from_event(AWS_EXAMPLE)
    assert len(records) == 1
    record = records[0]
    assert (record.queue, record.vhost, record.redelivered) == ("pizzaQueue", "/", False)
    assert record.raw == b'{"timeout":0,"data":"CZrmf0Gw8Ov4bqLQxD4E"}'
    assert record.header_text("header1") == "value1"
    assert header_text(10) == "10"


def test_a_batch_becomes_rows_and_rollups(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    minute = datetime.now(UTC).replace(second=5, microsecond=0) - timedelta(minutes=3)
    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    bodies = [
        message(
            project.id,
            {
                "name": "signup",
                "timestamp": minute.isoformat(),
                "user": {"id": "u1"},
                "context": {"user_agent": ua},
            },
            {
                "name": "signup",
                "timestamp": (minute + timedelta(seconds=10)).isoformat(),
                "user": {"id": "u1"},
            },
            {
                "name": "signup",
                "timestamp": (minute + timedelta(seconds=20)).isoformat(),
                "user": {"id": "u2"},
            },
        ),
        message(
            project.id,
            {
                "type": "error",
                "error": {"type": "TypeError", "value": "x is undefined"},
                "timestamp": (minute + timedelta(minutes=1)).isoformat(),
            },
        ),
    ]
    outcome = run(processor, rmq_event(QUEUE, bodies))
    assert (outcome.messages, outcome.events, outcome.inserted, outcome.dead_letters) == (
        2,
        4,
        4,
        [],
    )
    state = snapshot(db, project.id)
    assert len(state["events"]) == 4
    assert state["rollups"] == [
        (minute.replace(second=0), "event", "signup", "info", 3),
        (minute.replace(second=0) + timedelta(minutes=1), "error", "TypeError", "error", 1),
    ]
    assert state["users"] == [(minute.replace(second=0), "u1"), (minute.replace(second=0), "u2")]
    row = db.execute(
        "SELECT browser, os, device, fingerprint FROM events WHERE project_id = %s AND user_id = 'u1'"
        " ORDER BY timestamp LIMIT 1",
        (project.id,),
    ).fetchone()
    assert row is not None
    assert row[:3] == ("Mobile Safari 17", "iOS 17", "iPhone")
    error_fp = db.execute(
        "SELECT fingerprint FROM events WHERE project_id = %s AND type = 'error'", (project.id,)
    ).fetchone()
    assert error_fp is not None and error_fp[0]


def test_the_same_batch_twice_changes_nothing(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    bodies = [
        message(
            project.id, *({"name": f"e{i % 3}", "user": {"id": f"u{i % 5}"}} for i in range(50))
        ),
        message(project.id, {"name": "other"}),
        b"poison",
    ]
    event = rmq_event(QUEUE, bodies)
    first = run(processor, event)
    before = snapshot(db, project.id)
    redelivered = rmq_event(QUEUE, bodies, redelivered=True)
    second = run(processor, redelivered)
    assert first.inserted == 51 and second.inserted == 0
    assert second.duplicates == 51
    assert snapshot(db, project.id) == before
    assert sum(r[-1] for r in before["rollups"]) == 51
    assert count_rows(db, "SELECT count(*) FROM dead_letters WHERE raw = %s", b"poison") == 1


def test_poison_records_become_dead_letters_and_the_rest_is_written(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    unknown = uuid.uuid4()
    bad_event = orjson.dumps(
        {
            "v": 1,
            "project_id": str(project.id),
            "received_at": datetime.now(UTC).isoformat(),
            "events": [{"name": "no id or timestamp"}],
        }
    )
    wrong_version = orjson.dumps({"v": 99, "project_id": str(project.id), "events": []})
    bodies = [
        message(project.id, {"name": "good-1"}),
        b"\xff not json at all",
        message(unknown, {"name": "orphan"}),
        bad_event,
        wrong_version,
        message(project.id, {"name": "good-2"}),
    ]
    outcome = run(processor, rmq_event(QUEUE, bodies))
    assert outcome.inserted == 2
    reasons = sorted(letter.reason for letter in outcome.dead_letters)
    assert len(reasons) == 4
    assert any(r.startswith("body is not JSON") for r in reasons)
    assert any(r == f"unknown project {unknown}" for r in reasons)
    assert any(r.startswith("invalid event in message") for r in reasons)
    assert any(r == "unsupported schema version 99" for r in reasons)
    stored = db.execute(
        "SELECT reason, raw, source, message_id FROM dead_letters WHERE raw = %s", (bodies[1],)
    ).fetchone()
    assert stored is not None and stored[2] == QUEUE and stored[3]
    names = [
        r[0]
        for r in db.execute(
            "SELECT name FROM events WHERE project_id = %s ORDER BY name", (project.id,)
        ).fetchall()
    ]
    assert names == ["good-1", "good-2"]


def test_a_message_the_database_rejects_is_isolated(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    # A producer other than our ingest might send a NUL escape, which jsonb cannot store.
    good = message(project.id, {"name": "kept"})
    evil = orjson.loads(message(project.id, {"name": "nul"}))
    evil["events"][0]["properties"] = {"k": "a\u0000b"}
    outcome = run(processor, rmq_event(QUEUE, [good, orjson.dumps(evil)]))
    assert outcome.inserted == 1
    assert len(outcome.dead_letters) == 1
    assert outcome.dead_letters[0].reason.startswith("rejected by the database")
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", project.id) == 1
    assert (
        count_rows(
            db,
            "SELECT count(*) FROM event_rollups_1m WHERE project_id = %s AND name = 'kept'",
            project.id,
        )
        == 1
    )


def test_dead_letter_queue_records_keep_the_broker_reason(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    body = message(project.id, {"name": "gave up"})
    headers = {
        "x-first-death-reason": {"bytes": list(b"delivery_limit")},
        "x-first-death-queue": {"bytes": list(QUEUE.encode())},
    }
    outcome = run(processor, rmq_event(DLQ, [body], headers=headers))
    assert outcome.inserted == 0
    row = db.execute(
        "SELECT reason, project_id, source FROM dead_letters WHERE raw = %s", (body,)
    ).fetchone()
    assert row == (f"delivery limit exceeded (queue {QUEUE})", project.id, DLQ)


def test_late_events_are_stored_and_counted(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection, layout: StorageMode
) -> None:
    old = datetime.now(UTC) - timedelta(days=20)
    run(
        processor,
        rmq_event(QUEUE, [message(project.id, {"name": "late", "timestamp": old.isoformat()})]),
    )
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", project.id) == 1
    assert (
        count_rows(db, "SELECT sum(events) FROM event_rollups_1m WHERE project_id = %s", project.id)
        == 1
    )
    if layout is StorageMode.POSTGRES:
        # The processor created the day's partition (TimescaleDB makes its own chunks).
        partition = f"events_p{old:%Y%m%d}"
        assert (
            count_rows(db, f"SELECT count(*) FROM {partition} WHERE project_id = %s", project.id)
            == 1
        )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_an_unreachable_database_raises_so_the_batch_comes_back(project: CreatedProject) -> None:
    down = BatchProcessor(Database(f"postgresql://postgres@127.0.0.1:{_closed_port()}/x"), DLQ)
    with pytest.raises(psycopg.OperationalError):
        run(down, rmq_event(QUEUE, [message(project.id, {"name": "x"})]))


def test_the_lambda_handler(
    settings: Settings,
    project: CreatedProject,
    db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.processor import handler as processor_function
    from logsight.config import get_settings

    monkeypatch.setenv("LOGSIGHT_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    monkeypatch.setattr(processor_function, "_processor", None)
    result = processor_function.handler(
        rmq_event(QUEUE, [message(project.id, {"name": "a"}, {"name": "b"}), b"junk"]), None
    )
    assert result == {"messages": 2, "events": 2, "inserted": 2, "dead_letters": 1}
    get_settings.cache_clear()
