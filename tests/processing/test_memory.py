"""What the processor holds while it writes a batch: the batch's text, never its parsed JSON.

A batch of hundreds of Sentry events, parsed into dicts all at once, takes about ten times its
size in Python objects; freed, that memory stays with the process as the C allocator's high-water
mark. The processor decodes one message at a time and keeps only each row's serialized columns.
"""

from __future__ import annotations

import tracemalloc
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import psycopg
import pytest

from logsight.event import COLUMNS, JSON_COLUMNS
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage.db import Database
from logsight.storage.projects import CreatedProject
from tests.support.processor import message, rmq_event

QUEUE = "logsight.events.0"
DLQ = "logsight.events.dead"


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    db = Database(database_url)
    yield BatchProcessor(db, DLQ)
    db.reset()


def sentry_shaped(n: int, timestamp: datetime | None = None) -> dict[str, Any]:
    """An error event shaped like the Sentry mapping's: frames with vars, breadcrumbs, contexts."""
    frames = [
        {
            "filename": f"shop/cart_{depth}.py",
            "function": f"checkout_{depth}",
            "lineno": 40 + depth,
            "in_app": True,
            "context_line": f"    total = sum(item.price for item in cart_{depth}.items)",
            "pre_context": ["def checkout(cart):", "    # é ü 漢字 ✓", "    items = cart.items"],
            "vars": {"cart": f"<Cart id={n} items=3>", "depth": str(depth), "ratio": "0.25"},
        }
        for depth in range(12)
    ]
    event: dict[str, Any] = {
        "event_id": str(uuid.uuid4()),
        "type": "error",
        "level": "error",
        "message": f"cart {n} cannot be checked out",
        "user_id": f"user-{n % 50}",
        "release": "shop@1.2.0",
        "environment": "production",
        "error": {
            "type": "CartError",
            "value": f"cart {n} cannot be checked out (total 28.5)",
            "stacktrace": {"frames": frames},
        },
        "properties": {"region": "eu-west-1", "attempt": n % 3, "price": 9.5, "flag": None},
        "context": {
            "runtime": {"name": "CPython", "version": "3.12.4"},
            "os": {"name": "Linux"},
            "trace": {"trace_id": uuid.uuid4().hex, "span_id": uuid.uuid4().hex[:16]},
        },
        "user": {"id": f"user-{n % 50}", "email": f"user{n % 50}@example.com"},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
        "breadcrumbs": [
            {"category": "cart", "message": f"step {step}", "timestamp": 1.5 + step}
            for step in range(8)
        ],
    }
    if timestamp is not None:
        event["timestamp"] = timestamp.isoformat()
    return event


def test_every_json_column_is_stored_as_the_message_carried_it(
    processor: BatchProcessor, project: CreatedProject, db: psycopg.Connection
) -> None:
    received = datetime.now(UTC)
    bodies = [
        message(project.id, sentry_shaped(1), {"name": "bare"}, received_at=received),
        # Clamped far into the past: meta carries the original timestamp.
        message(
            project.id,
            sentry_shaped(2, received - timedelta(days=90)),
            received_at=received,
        ),
    ]
    outcome = processor.process(records_from_event(rmq_event(QUEUE, bodies)))
    assert (outcome.inserted, outcome.dead_letters) == (3, [])

    sent = {e["event_id"]: e for body in bodies for e in orjson.loads(body)["events"]}
    rows = db.execute(
        f"SELECT event_id, {', '.join(COLUMNS)} FROM events WHERE project_id = %s",
        (project.id,),
    ).fetchall()
    assert len(rows) == 3
    for event_id, *values in rows:
        stored = dict(zip(COLUMNS, values, strict=True))
        event = sent[str(event_id)]
        expected = {
            "properties": event.get("properties") or {},
            "context": event.get("context") or None,
            "user_traits": event.get("user") or None,
            "error": event.get("error") or None,
            "sdk": event.get("sdk") or None,
            "meta": event.get("meta") or None,
            "breadcrumbs": event.get("breadcrumbs") or None,
        }
        assert {c: stored[c] for c in JSON_COLUMNS} == expected
        assert stored["timestamp"] == datetime.fromisoformat(event["timestamp"])
    clamped = next(e for e in sent.values() if (e.get("meta") or {}).get("original_timestamp"))
    assert clamped["timestamp"] != clamped["meta"]["original_timestamp"]


def test_a_batch_is_held_as_its_text_not_as_parsed_json(
    processor: BatchProcessor, project: CreatedProject
) -> None:
    # Warm: the connection, the staging table and the user-agent parser exist already.
    processor.process(records_from_event(rmq_event(QUEUE, [message(project.id, sentry_shaped(0))])))
    bodies = [message(project.id, sentry_shaped(n)) for n in range(1, 201)]
    size = sum(len(body) for body in bodies)
    event = rmq_event(QUEUE, bodies)
    del bodies

    tracemalloc.start()
    try:
        outcome = processor.process(records_from_event(event))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert outcome.inserted == 200
    # The rows' JSON is about the batch's size; its parsed objects would be five times that.
    assert peak < 2 * size, f"peak {peak / size:.1f} times the batch's {size:,} bytes"
