"""Writing a batch of events with a few set-based statements.

COPY into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING RETURNING
into ``events``; on plain PostgreSQL the same statement feeds the rollups from the RETURNING
rows, so a redelivered batch (which inserts nothing) changes no counter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
import psycopg

from logsight.storage.mode import StorageMode
from logsight.storage.partitions import PartitionManager

COLUMNS = (
    "project_id",
    "event_id",
    "timestamp",
    "received_at",
    "type",
    "name",
    "level",
    "message",
    "user_id",
    "session_id",
    "release",
    "environment",
    "fingerprint",
    "browser",
    "os",
    "device",
    "properties",
    "context",
    "user_traits",
    "error",
    "sdk",
    "meta",
)
_JSON_COLUMNS = frozenset({"properties", "context", "user_traits", "error", "sdk", "meta"})
_COLUMN_LIST = ", ".join(COLUMNS)

_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS events_staging"
    " (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY = f"COPY events_staging ({_COLUMN_LIST}) FROM STDIN"

_INSERT_EVENTS = f"""
INSERT INTO events ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM events_staging
ON CONFLICT DO NOTHING
RETURNING project_id, timestamp, type, name, level, user_id
"""

# Plain PostgreSQL: rollups fed from exactly the rows inserted. Sorted inserts keep lock order
# stable between concurrent writers.
_INSERT_EVENTS_AND_ROLLUPS = f"""
WITH inserted AS ({_INSERT_EVENTS}),
minute AS (
    SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z') AS bucket,
           type, name, level, user_id
    FROM inserted
),
counted AS (
    INSERT INTO event_rollups_1m AS r (project_id, bucket, type, name, level, events)
    SELECT project_id, bucket, type, name, level, count(*)
    FROM minute
    GROUP BY project_id, bucket, type, name, level
    ORDER BY project_id, bucket, type, name, level
    ON CONFLICT (project_id, bucket, type, name, level)
    DO UPDATE SET events = r.events + EXCLUDED.events
    RETURNING 1
),
users AS (
    INSERT INTO user_rollups_1m (project_id, bucket, user_id)
    SELECT DISTINCT project_id, bucket, user_id
    FROM minute
    WHERE user_id IS NOT NULL
    ORDER BY project_id, bucket, user_id
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM inserted), (SELECT count(*) FROM counted),
       (SELECT count(*) FROM users)
"""

_INSERT_EVENTS_ONLY = f"""
WITH inserted AS ({_INSERT_EVENTS})
SELECT (SELECT count(*) FROM inserted), 0, 0
"""


def insert_statement(mode: StorageMode) -> str:
    """TimescaleDB keeps rollups as continuous aggregates; plain PostgreSQL maintains tables."""
    return _INSERT_EVENTS_ONLY if mode is StorageMode.TIMESCALE else _INSERT_EVENTS_AND_ROLLUPS


@dataclass(frozen=True, slots=True)
class EventRow:
    project_id: UUID
    event_id: UUID
    timestamp: datetime
    received_at: datetime
    type: str
    name: str
    level: str
    message: str | None
    user_id: str | None
    session_id: str | None
    release: str | None
    environment: str | None
    fingerprint: str | None
    browser: str | None
    os: str | None
    device: str | None
    properties: dict[str, Any]
    context: dict[str, Any] | None
    user_traits: dict[str, Any] | None
    error: dict[str, Any] | None
    sdk: dict[str, Any] | None
    meta: dict[str, Any] | None

    def copy_values(self) -> tuple[Any, ...]:
        values: list[Any] = []
        for column in COLUMNS:
            value = getattr(self, column)
            if column in _JSON_COLUMNS and value is not None:
                value = orjson.dumps(value).decode()
            values.append(value)
        return tuple(values)


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    rollup_rows: int


class EventWriter:
    def __init__(self, mode: StorageMode, partitions: PartitionManager | None = None) -> None:
        self.mode = mode
        self._partitions = partitions or PartitionManager()
        self._statement = insert_statement(mode).encode()

    def prepare(self, conn: psycopg.Connection, days: set[date]) -> None:
        """Outside the batch transaction: DDL here would lock ``events`` for its whole length."""
        if self.mode is StorageMode.POSTGRES:
            self._partitions.ensure(conn, days)
        conn.execute(_CREATE_STAGING)

    def write(self, conn: psycopg.Connection, rows: list[EventRow]) -> WriteResult:
        """Write within the caller's transaction."""
        if not rows:
            return WriteResult(0, 0)
        with conn.cursor() as cur:
            with cur.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row.copy_values())
            cur.execute(self._statement)
            result = cur.fetchone()
            # Within one transaction several writes may follow each other (poison isolation).
            cur.execute("TRUNCATE events_staging")
        assert result is not None
        return WriteResult(int(result[0]), int(result[1]))
