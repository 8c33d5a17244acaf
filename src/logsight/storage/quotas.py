"""The shared quota counters (``quota_counters``): leasing slices of a window's allowance.

Every ingest environment calls ``lease`` when its local slice of a counter runs out; the
database function ``logsight_quota_lease`` (migration 0011) does the arithmetic under the row
lock, so the slices handed out in one window never add up to more than the limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg


@dataclass(frozen=True, slots=True)
class LeaseRequest:
    subject_id: UUID  # the project, or one of its keys
    unit: str  # the window: second, minute or month
    limit: int
    need: int  # events the caller needs now; less than that left grants nothing
    slice: int  # what the caller would like to hold (at least `need`)


@dataclass(frozen=True, slots=True)
class Lease:
    subject_id: UUID
    unit: str
    window_start: datetime
    seconds_left: float  # until the window ends, by the database's clock
    granted: int
    remaining: int  # what the counter has left for everyone once this lease is taken


def lease(conn: psycopg.Connection, project_id: UUID, requests: list[LeaseRequest]) -> list[Lease]:
    """Lease from each counter in one statement. Counters are locked in a fixed order
    (sorted here), so concurrent leases of the same counters cannot deadlock."""
    ordered = sorted(requests, key=lambda r: (r.subject_id, r.unit))
    rows = conn.execute(
        "SELECT subject, unit, window_began, seconds_left, granted_now, remaining"
        " FROM logsight_quota_lease(%s, %s::uuid[], %s::text[], %s::bigint[], %s::bigint[],"
        " %s::bigint[])",
        (
            project_id,
            [r.subject_id for r in ordered],
            [r.unit for r in ordered],
            [r.limit for r in ordered],
            [r.need for r in ordered],
            [max(r.slice, r.need) for r in ordered],
        ),
    ).fetchall()
    return [Lease(UUID(str(r[0])), r[1], r[2], float(r[3]), int(r[4]), int(r[5])) for r in rows]


def count_month_so_far(conn: psycopg.Connection, project_id: UUID) -> None:
    """Start the project's month counter from the events stored this month (hourly rollups, by
    event time), so a monthly quota set mid-month counts what already came in. A counter that
    is counting this month already keeps the larger of the two."""
    conn.execute(
        "INSERT INTO quota_counters AS c (subject_id, window_unit, project_id, window_start, used)"
        " SELECT %(project)s, 'month', %(project)s, m.start,"
        " (SELECT coalesce(sum(r.events), 0) FROM event_rollups_1h r"
        "  WHERE r.project_id = %(project)s AND r.bucket >= m.start)"
        " FROM (SELECT date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS start) m"
        " ON CONFLICT (subject_id, window_unit) DO UPDATE SET"
        " window_start = EXCLUDED.window_start,"
        " used = CASE WHEN c.window_start = EXCLUDED.window_start"
        " THEN greatest(c.used, EXCLUDED.used) ELSE EXCLUDED.used END",
        {"project": project_id},
    )
