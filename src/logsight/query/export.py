"""Exports: a project's events or issues over a time range, and one user's events, read with a
server-side cursor so any size streams in constant memory.

Each export opens its own connection from the pool, for as long as the response streams: the
request's connection goes back to the pool when the handler returns, before the body is sent.
The transaction is read-only and REPEATABLE READ, so the export is one consistent snapshot.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from logsight.event import COLUMNS as WRITTEN_COLUMNS

# What the processor writes, but the project (it is the export's) and the SDK and meta details.
EVENT_COLUMNS = tuple(c for c in WRITTEN_COLUMNS if c not in {"project_id", "sdk", "meta"})
ISSUE_COLUMNS = (
    "id",
    "fingerprint",
    "title",
    "culprit",
    "error_type",
    "level",
    "status",
    "first_seen",
    "last_seen",
    "events",
    "users",
    "first_release",
    "last_release",
)
_FETCH = 500


def _stream(pool: ConnectionPool, sql: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    with pool.connection() as conn, conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        with conn.cursor(name="logsight_export", row_factory=dict_row) as cur:
            cur.itersize = _FETCH
            cur.execute(sql, params)
            yield from cur


def project_events(
    pool: ConnectionPool, project_id: UUID, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    return _stream(
        pool,
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM events WHERE project_id = %(project)s"
        " AND timestamp >= %(start)s AND timestamp < %(end)s ORDER BY timestamp, event_id",
        {"project": project_id, "start": start, "end": end},
    )


def project_issues(
    pool: ConnectionPool, project_id: UUID, start: datetime, end: datetime
) -> Iterator[dict[str, Any]]:
    """Issues seen within the range (first seen before its end, last seen after its start)."""
    return _stream(
        pool,
        f"SELECT {', '.join(ISSUE_COLUMNS)} FROM issues WHERE project_id = %(project)s"
        " AND first_seen < %(end)s AND last_seen >= %(start)s ORDER BY first_seen, id",
        {"project": project_id, "start": start, "end": end},
    )


def user_events(
    pool: ConnectionPool, project_ids: list[UUID], identifiers: list[str]
) -> Iterator[dict[str, Any]]:
    """Every stored event of one user (matched as deletion matches them), oldest first."""
    return _stream(
        pool,
        f"SELECT project_id, {', '.join(EVENT_COLUMNS)} FROM events e"
        " WHERE e.project_id = ANY(%(projects)s) AND (e.user_id = ANY(%(ids)s)"
        " OR e.user_traits->>'id' = ANY(%(ids)s) OR e.user_traits->>'email' = ANY(%(ids)s))"
        " ORDER BY timestamp, event_id",
        {"projects": project_ids, "ids": identifiers},
    )
