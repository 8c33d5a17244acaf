"""Log events become log lines: written once to ``logs`` (never to ``events``) and counted once
in ``log_rollups_1m``, also when a message is delivered again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import psycopg

from logsight.processing.batch import BatchProcessor
from tests.conftest import count_rows
from tests.support.query import Tenant, ingest

pytest_plugins = ["tests.support.query"]


def test_a_redelivered_log_line_is_stored_and_counted_once(
    processor: BatchProcessor, tenant: Tenant, db: psycopg.Connection
) -> None:
    when = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    line = {
        "type": "log",
        "event_id": str(uuid.uuid4()),
        "level": "warning",
        "message": "disk almost full",
        "timestamp": when.isoformat(),
        "properties": {"service.name": "worker", "disk": "/var"},
    }
    assert ingest(processor, tenant.project_id, [line]) == 1
    assert ingest(processor, tenant.project_id, [line]) == 0
    pid = tenant.project_id
    assert count_rows(db, "SELECT count(*) FROM events WHERE project_id = %s", pid) == 0
    row = db.execute(
        "SELECT service, level, body, attributes FROM logs WHERE project_id = %s", (pid,)
    ).fetchall()
    assert row == [("worker", "warning", "disk almost full", {"disk": "/var"})]
    rollups = db.execute(
        "SELECT service, level, lines FROM log_rollups_1m WHERE project_id = %s", (pid,)
    ).fetchall()
    assert rollups == [("worker", "warning", 1)]


def test_a_log_line_without_a_time_is_not_stored_twice_when_its_request_is_retried(
    processor: BatchProcessor, tenant: Tenant, db: psycopg.Connection
) -> None:
    received = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    line = {"type": "log", "event_id": str(uuid.uuid4()), "message": "no time of its own"}
    # Ingest stamps a line without a time with the request's arrival; a retry arrives later.
    assert ingest(processor, tenant.project_id, [line], received_at=received) == 1
    retried = received + timedelta(seconds=30)
    assert ingest(processor, tenant.project_id, [line], received_at=retried) == 0
    assert count_rows(db, "SELECT count(*) FROM logs WHERE project_id = %s", tenant.project_id) == 1
