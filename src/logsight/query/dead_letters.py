"""A project's dead letters: pages newest first (lists carry the start of each message, one
letter its raw bytes up to a cap), and a summary by reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

TOP_REASONS = 20
NEWEST_FIRST = Order(("created_at", "id"), ("created_at", "id"), descending=True)
_COLUMNS = (
    "id, project_id, created_at, reason, source, message_id, octet_length(raw) AS size,"
    " details, replayed_at, redrive_attempts, redriven_at"
)


def summaries(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    head_bytes: int,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of letters, each with its first ``head_bytes`` bytes as ``head``."""
    # Only the heads leave the database, not whole messages.
    return fetch(
        conn,
        f"SELECT {_COLUMNS}, substring(raw FROM 1 FOR %(head)s) AS head"
        " FROM dead_letters WHERE project_id = %(project)s",
        NEWEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id, "head": head_bytes},
    )


def get(
    conn: psycopg.Connection, project_id: UUID, dead_letter_id: int, *, raw_bytes: int
) -> Row | None:
    """One letter with its first ``raw_bytes`` bytes as ``raw``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS}, substring(raw FROM 1 FOR %s) AS raw"
            " FROM dead_letters WHERE id = %s AND project_id = %s",
            (raw_bytes, dead_letter_id, project_id),
        ).fetchone()


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    letters: int
    in_range: int
    waiting: int  # not sent back since it was (last) recorded
    latest_at: datetime


def by_reason(
    conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime
) -> tuple[int, list[ReasonCount]]:
    """Every letter of the project (the total) and the TOP_REASONS most frequent reasons."""
    rows = conn.execute(
        "SELECT reason, count(*), count(*) FILTER (WHERE created_at >= %s AND created_at < %s),"
        " count(*) FILTER (WHERE replayed_at IS NULL), max(created_at), sum(count(*)) OVER ()"
        " FROM dead_letters WHERE project_id = %s GROUP BY reason"
        " ORDER BY count(*) DESC, max(created_at) DESC, reason LIMIT %s",
        (start, end, project_id, TOP_REASONS),
    ).fetchall()
    total = int(rows[0][5]) if rows else 0
    return total, [ReasonCount(r[0], int(r[1]), int(r[2]), int(r[3]), r[4]) for r in rows]


def replayed_at(
    conn: psycopg.Connection, project_id: UUID, letter_id: int
) -> tuple[datetime | None] | None:
    """(when it was last sent back, or None), or None when the project has no such letter."""
    row = conn.execute(
        "SELECT replayed_at FROM dead_letters WHERE project_id = %s AND id = %s",
        (project_id, letter_id),
    ).fetchone()
    return (row[0],) if row is not None else None
