"""Reading a project's dead letters in summary: how many, for which reasons, how recent."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

TOP_REASONS = 20


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
