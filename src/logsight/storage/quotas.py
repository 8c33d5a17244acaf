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
