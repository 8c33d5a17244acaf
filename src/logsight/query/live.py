"""The live view: what arrived since the last poll, by acceptance time (``received_at``).

Each poll covers the window (cursor, now - SETTLE] and returns the window's end as the next
cursor, so consecutive polls tile time without gaps or overlaps. Client timestamps can be
late or wrong, which is why the window is on ``received_at``. An event is only visible once the
processor has written it, a moment after ingest stamped it: SETTLE leaves that moment before a
window closes (an event written later than that is still in search and the counters, just not
in the live feed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from logsight.event import LIST_COLUMNS

SETTLE = timedelta(seconds=1)
# The first poll, or one after a long pause, looks back at most this far.
LOOKBACK = timedelta(minutes=5)
# Events whose client timestamp is older than their arrival by more than this are left out of
# the live feed: the bound lets the planner skip old partitions/chunks (TimescaleDB would
# otherwise decompress every compressed chunk to check received_at).
LATE_BOUND = timedelta(days=1)


@dataclass(frozen=True, slots=True)
class LiveWindow:
    start: datetime
    end: datetime
    events: list[dict[str, Any]]
    total: int
    errors: int
    by_type: dict[str, int]
    users: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.events)


def poll(
    conn: psycopg.Connection, project_id: UUID, after: datetime | None, *, limit: int
) -> LiveWindow:
    row = conn.execute("SELECT now() - %s", (SETTLE,)).fetchone()
    assert row is not None
    end: datetime = row[0]
    start = end - LOOKBACK if after is None or after < end - LOOKBACK else after
    start = min(start, end)
    window = (project_id, start, end, start - LATE_BOUND)
    columns = sql.SQL(", ").join(map(sql.Identifier, LIST_COLUMNS))
    with conn.cursor(row_factory=dict_row) as cur:
        events = cur.execute(
            sql.SQL(
                "SELECT {columns} FROM events"
                " WHERE project_id = %s AND received_at > %s AND received_at <= %s"
                " AND timestamp >= %s"
                " ORDER BY received_at DESC, event_id DESC LIMIT %s"
            ).format(columns=columns),
            (*window, limit),
        ).fetchall()
    # The () grouping set is the whole window (type is never NULL, so NULL marks it).
    counts = conn.execute(
        "SELECT type, count(*),"
        " count(*) FILTER (WHERE type = 'error' OR level IN ('error', 'fatal')),"
        " count(DISTINCT user_id)"
        " FROM events WHERE project_id = %s AND received_at > %s AND received_at <= %s"
        " AND timestamp >= %s GROUP BY GROUPING SETS ((type), ())",
        window,
    ).fetchall()
    by_type = {t: int(n) for t, n, _, _ in counts if t is not None}
    whole = next((row for row in counts if row[0] is None), (None, 0, 0, 0))
    return LiveWindow(
        start=start,
        end=end,
        events=events,
        total=int(whole[1]),
        errors=int(whole[2]),
        by_type=by_type,
        users=int(whole[3]),
    )
