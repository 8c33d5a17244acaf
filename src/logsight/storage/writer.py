"""Writing a batch of events (and log lines: events of type ``log`` go to ``logs``) with a few
set-based statements.

COPY into a session-local staging table, then one INSERT ... ON CONFLICT DO NOTHING RETURNING
into ``events`` whose returned rows feed, in the same statement, the rollups and the issues, so
a redelivered batch (which inserts nothing) changes no counter, and every statistic counts an
event from the moment it can be searched, whatever its timestamp. The statement is the same in
both layouts (on TimescaleDB the rollup tables are hypertables).

The primary key (project, timestamp, event id) catches every repeat of an event that carries its
own timestamp. An event whose timestamp ingest assigned (none sent: the time the request was
received; or clamped) gets a new one when a client retries the request, so before the insert
such staged rows are dropped when their (project, event id) is already stored with an assigned
timestamp within the dedup window, or repeats an earlier row of the batch. Dropped rows never
reach RETURNING, so rollups and issues count them once.

That check is race-free because one project's messages are written by one consumer at a time
(one shard queue per project, one consumer per queue). Two writers of one project can still
overlap briefly (the shard count changed while messages were queued; a timed-out invocation's
transaction not yet rolled back), so a batch with such rows first takes a transaction-scoped
advisory lock per project, in a fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import psycopg

from logsight.event import COLUMNS
from logsight.storage.issues import ISSUE_CTES
from logsight.storage.issues import RETURNING_COLUMNS as ISSUE_RETURNING_COLUMNS
from logsight.storage.mode import StorageMode
from logsight.storage.partitions import PartitionManager

_COLUMN_LIST = ", ".join(COLUMNS)

_CREATE_STAGING = (
    "CREATE TEMP TABLE IF NOT EXISTS events_staging"
    " (LIKE events INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
)
_COPY = f"COPY events_staging ({_COLUMN_LIST}) FROM STDIN"

_INSERT_EVENTS = f"""
INSERT INTO events ({_COLUMN_LIST})
SELECT {_COLUMN_LIST} FROM events_staging WHERE type <> 'log'
ON CONFLICT DO NOTHING
RETURNING project_id, timestamp, type, name, level, release, user_id,
          CASE WHEN type = 'pageview' THEN context->>'url' END AS url,
          {", ".join(ISSUE_RETURNING_COLUMNS)}
"""

# Log events become log lines: the OTLP fields ingest keeps in ``context.otel`` and
# ``context.trace`` get their own columns, ``service.name`` leaves the attributes for its column.
_INSERT_LOGS = """
INSERT INTO logs (project_id, log_id, timestamp, observed_at, received_at, severity_number,
                  severity_text, level, service, environment, release, logger, body, body_json,
                  trace_id, span_id, resource, scope, attributes)
SELECT project_id, event_id, timestamp,
       to_timestamp((context->'otel'->>'observed_time_unix_nano')::double precision / 1e9),
       received_at, (context->'otel'->>'severity_number')::smallint,
       context->'otel'->>'severity_text', level, properties->>'service.name', environment,
       release, name, message, context->'otel'->'body', context->'trace'->>'trace_id',
       context->'trace'->>'span_id', context->'otel'->'resource', context->'otel'->'scope',
       properties - 'service.name'
FROM events_staging WHERE type = 'log'
ON CONFLICT DO NOTHING
RETURNING project_id, timestamp, coalesce(service, '') AS service, level
"""

_LOG_CTES = f"""
logged AS ({_INSERT_LOGS}),
log_counted AS (
    INSERT INTO log_rollups_1m AS r (project_id, bucket, service, level, lines)
    SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), service,
           level, count(*)
    FROM logged
    GROUP BY 1, 2, 3, 4
    ORDER BY 1, 2, 3, 4
    ON CONFLICT (project_id, bucket, service, level) DO UPDATE SET lines = r.lines + EXCLUDED.lines
    RETURNING 1
),"""

# Every rollup is fed from exactly the rows inserted. Counters add; sketches keep the greatest
# rho, so they are idempotent by nature. Sorted inserts keep lock order stable between
# concurrent writers. Buckets are UTC-aligned like time_bucket's.
_INSERT_EVENTS_AND_ROLLUPS = f"""
WITH inserted AS ({_INSERT_EVENTS}),{_LOG_CTES}
minute AS (
    SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z') AS bucket,
           date_bin('1 hour', timestamp, TIMESTAMPTZ '2000-01-01Z') AS hour,
           date_bin('1 day', timestamp, TIMESTAMPTZ '2000-01-01Z') AS day,
           type, name, level, coalesce(release, '') AS release, user_id,
           logsight_url_path(url) AS path
    FROM inserted
),
counted AS (
    INSERT INTO event_rollups_1m AS r (project_id, bucket, type, name, level, release, events)
    SELECT project_id, bucket, type, name, level, release, count(*)
    FROM minute
    GROUP BY project_id, bucket, type, name, level, release
    ORDER BY project_id, bucket, type, name, level, release
    ON CONFLICT (project_id, bucket, type, name, level, release)
    DO UPDATE SET events = r.events + EXCLUDED.events
    RETURNING 1
),
counted_hourly AS (
    INSERT INTO event_rollups_1h AS r (project_id, bucket, type, name, level, release, events)
    SELECT project_id, hour, type, name, level, release, count(*)
    FROM minute
    GROUP BY project_id, hour, type, name, level, release
    ORDER BY project_id, hour, type, name, level, release
    ON CONFLICT (project_id, bucket, type, name, level, release)
    DO UPDATE SET events = r.events + EXCLUDED.events
    RETURNING 1
),
pages AS (
    INSERT INTO page_rollups_1m AS r (project_id, bucket, path, views)
    SELECT project_id, bucket, path, count(*)
    FROM minute
    WHERE type = 'pageview'
    GROUP BY project_id, bucket, path
    ORDER BY project_id, bucket, path
    ON CONFLICT (project_id, bucket, path) DO UPDATE SET views = r.views + EXCLUDED.views
    RETURNING 1
),
pages_hourly AS (
    INSERT INTO page_rollups_1h AS r (project_id, bucket, path, views)
    SELECT project_id, hour, path, count(*)
    FROM minute
    WHERE type = 'pageview'
    GROUP BY project_id, hour, path
    ORDER BY project_id, hour, path
    ON CONFLICT (project_id, bucket, path) DO UPDATE SET views = r.views + EXCLUDED.views
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
),
registers AS (
    SELECT project_id, hour, day, logsight_hll_register(user_id) AS register,
           max(logsight_hll_rho(user_id)) AS rho
    FROM minute
    WHERE user_id IS NOT NULL
    GROUP BY project_id, hour, day, register
),
sketch_hourly AS (
    INSERT INTO user_sketches_1h AS s (project_id, bucket, register, rho)
    SELECT project_id, hour, register, rho
    FROM registers
    ORDER BY project_id, hour, register
    ON CONFLICT (project_id, bucket, register)
    DO UPDATE SET rho = EXCLUDED.rho WHERE EXCLUDED.rho > s.rho
    RETURNING 1
),
sketch_daily AS (
    INSERT INTO user_sketches_1d AS s (project_id, bucket, register, rho)
    SELECT project_id, day, register, max(rho)
    FROM registers
    GROUP BY project_id, day, register
    ORDER BY project_id, day, register
    ON CONFLICT (project_id, bucket, register)
    DO UPDATE SET rho = EXCLUDED.rho WHERE EXCLUDED.rho > s.rho
    RETURNING 1
),{ISSUE_CTES}
SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM logged),
       (SELECT count(*) FROM counted) + (SELECT count(*) FROM log_counted),
       (SELECT count(*) FROM users), (SELECT count(*) FROM counted_hourly),
       (SELECT count(*) FROM pages), (SELECT count(*) FROM pages_hourly),
       (SELECT count(*) FROM sketch_hourly), (SELECT count(*) FROM sketch_daily)
"""

# Whose timestamp ingest assigned: the partial index events_stamped_id_idx (migration 0012) is
# on exactly these rows, and EventRow.stamped says the same in Python.
_STAMPED = "({t}.timestamp = {t}.received_at OR {t}.meta ? 'original_timestamp')"

_DROP_REPEATS = f"""
DELETE FROM events_staging s
WHERE ({_STAMPED.format(t="s")}
  AND EXISTS (
    SELECT 1 FROM events e
    WHERE e.project_id = s.project_id AND e.event_id = s.event_id AND {_STAMPED.format(t="e")}
      AND e.timestamp BETWEEN s.timestamp - %(window)s AND s.timestamp + %(window)s))
   -- Log lines keep no meta: only a time ingest assigned from the request is recognized.
   OR (s.type = 'log' AND s.timestamp = s.received_at AND EXISTS (
    SELECT 1 FROM logs l
    WHERE l.project_id = s.project_id AND l.log_id = s.event_id AND l.timestamp = l.received_at
      AND l.timestamp BETWEEN s.timestamp - %(window)s AND s.timestamp + %(window)s))
"""

# Key space of the per-project advisory locks (the two-key form; migrations and partitions use
# the one-key form, a separate space).
_DEDUP_LOCK_SPACE = 0x4C6F6744
_LOCK_PROJECTS = "SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS k"

DEFAULT_DEDUP_WINDOW = timedelta(hours=24)

_STATEMENT = _INSERT_EVENTS_AND_ROLLUPS.encode()


@dataclass(frozen=True, slots=True)
class EventRow:
    """One row of ``events`` (a field per column of logsight.event.COLUMNS, in its order), its
    JSON columns already serialized (UTF-8).

    Holding the serialized JSON rather than the parsed objects lets the processor drop each
    message's parsed JSON as soon as its rows are built: a batch's rows then take about the
    size of its messages, where parsed dicts take several times that. UTF-8 bytes rather than
    ``str``: one non-Latin-1 character makes a ``str`` two or four bytes per character, and
    COPY would then keep a UTF-8 copy inside it too.
    """

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
    properties: bytes
    context: bytes | None
    user_traits: bytes | None
    error: bytes | None
    sdk: bytes | None
    meta: bytes | None
    breadcrumbs: bytes | None = None
    culprit: str | None = None
    # meta holds original_timestamp: ingest clamped the client's timestamp. Not a column:
    # meta is kept serialized, so the writer cannot look inside it.
    clamped: bool = field(default=False, metadata={"column": False})

    @property
    def stamped(self) -> bool:
        """The timestamp was assigned at ingest (none sent, or clamped), so a retried request
        gets another one."""
        return self.timestamp == self.received_at or self.clamped

    def copy_values(self) -> tuple[Any, ...]:
        # COPY's text format takes JSON as str (bytes would be written as bytea); each str
        # lives only while its row is formatted.
        return tuple(
            value.decode() if isinstance(value, bytes) else value
            for value in (getattr(self, column) for column in COLUMNS)
        )


def json_column(value: Any) -> bytes:
    """A JSON value serialized once, in a buffer of its own size (orjson's keeps 4 KB)."""
    return bytes(memoryview(orjson.dumps(value)))


def optional_json_column(value: Any) -> bytes | None:
    return None if value is None else json_column(value)


@dataclass(frozen=True, slots=True)
class WriteResult:
    inserted: int
    rollup_rows: int


class EventWriter:
    def __init__(
        self,
        mode: StorageMode,
        partitions: PartitionManager | None = None,
        *,
        dedup_window: timedelta = DEFAULT_DEDUP_WINDOW,
    ) -> None:
        self.mode = mode
        self._partitions = partitions or PartitionManager()
        self._dedup_window = dedup_window

    def prepare(self, conn: psycopg.Connection, days: set[date]) -> None:
        """Outside the batch transaction: DDL here would lock ``events`` for its whole length."""
        if self.mode is StorageMode.POSTGRES:
            self._partitions.ensure(conn, days)
        conn.execute(_CREATE_STAGING)

    def write(self, conn: psycopg.Connection, rows: list[EventRow]) -> WriteResult:
        """Write within the caller's transaction."""
        if not rows:
            return WriteResult(0, 0)
        stamped_projects = {row.project_id for row in rows if row.stamped}
        if stamped_projects:
            rows = _first_of_each_stamped(rows)
        with conn.cursor() as cur:
            with cur.copy(_COPY) as copy:
                for row in rows:
                    copy.write_row(row.copy_values())
            if stamped_projects:
                cur.execute(
                    _LOCK_PROJECTS,
                    (_DEDUP_LOCK_SPACE, sorted({_lock_key(p) for p in stamped_projects})),
                )
                cur.execute(_DROP_REPEATS, {"window": self._dedup_window})
            cur.execute(_STATEMENT)
            result = cur.fetchone()
            # Within one transaction several writes may follow each other (poison isolation).
            cur.execute("TRUNCATE events_staging")
        assert result is not None
        return WriteResult(int(result[0]), int(result[1]))


def _first_of_each_stamped(rows: list[EventRow]) -> list[EventRow]:
    """The rows without later repeats of a stamped (project, event id) within the batch."""
    seen: set[tuple[UUID, UUID]] = set()
    kept = []
    for row in rows:
        if row.stamped:
            ident = (row.project_id, row.event_id)
            if ident in seen:
                continue
            seen.add(ident)
        kept.append(row)
    return kept


def _lock_key(project_id: UUID) -> int:
    return int.from_bytes(project_id.bytes[:4], "big", signed=True)
