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
