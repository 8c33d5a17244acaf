"""What happened to what clients sent besides being stored: refused by a quota (rate_limited),
dropped by the client (client_discarded, from Sentry client reports), accepted without being
stored (skipped), invalid log records (invalid). Totals per outcome, category and reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg


@dataclass(frozen=True, slots=True)
class OutcomeTotal:
    outcome: str
    category: str
    reason: str
    quantity: int


def totals(
    conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime
) -> list[OutcomeTotal]:
    """Over [start, end) by the time the request was received (refusals: by their minute)."""
    rows = conn.execute(
        "SELECT outcome, category, reason, sum(quantity)::bigint FROM ingest_outcomes"
        " WHERE project_id = %s AND received_at >= %s AND received_at < %s"
        " GROUP BY outcome, category, reason ORDER BY outcome, category, reason",
        (project_id, start, end),
    ).fetchall()
    return [OutcomeTotal(r[0], r[1], r[2], int(r[3])) for r in rows]


@dataclass(frozen=True, slots=True)
class OutcomeSeries:
    outcome: str
    category: str
    reason: str
    values: list[int]

    @property
    def quantity(self) -> int:
        return sum(self.values)


def series(
    conn: psycopg.Connection, project_id: UUID, edges: list[datetime]
) -> list[OutcomeSeries]:
    """Quantities per bucket [edges[i], edges[i+1]) by received time, zero-filled, for each
    outcome, category and reason seen in the range (largest first)."""
    n = len(edges) - 1
    rows = conn.execute(
        "SELECT width_bucket(received_at, %s::timestamptz[]), outcome, category, reason,"
        " sum(quantity)::bigint FROM ingest_outcomes"
        " WHERE project_id = %s AND received_at >= %s AND received_at < %s"
        " GROUP BY 1, 2, 3, 4",
        (edges, project_id, edges[0], edges[-1]),
    ).fetchall()
    found: dict[tuple[str, str, str], list[int]] = {}
    for i, outcome, category, reason, quantity in rows:
        if 1 <= i <= n:
            found.setdefault((outcome, category, reason), [0] * n)[i - 1] += int(quantity)
    return sorted(
        (OutcomeSeries(*key, values) for key, values in found.items()),
        key=lambda s: (-s.quantity, s.outcome, s.category, s.reason),
    )
