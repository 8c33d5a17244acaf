"""What an issue costs the product: users and sessions it reached, and how often sessions
that met it went on to reach a chosen event compared with sessions that did not.

A session is a distinct ``events.session_id``: the browser snippet gives each tab one (kept in
``sessionStorage``), and native clients may send their own. Events without one (Sentry SDK
events carry none) count towards users but not sessions. A session "met the error" when it has
an event of the issue within the range, and "reached" the event when it has an event of that
name within the range, in either order.

Every count is exact and read from ``events`` through its per-project indexes (fingerprint,
name, session), so it costs the issue's events, the chosen event's and the range's sessions —
not a scan of every event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg


@dataclass(frozen=True, slots=True)
class IssueReach:
    events: int
    users: int
    sessions: int


@dataclass(frozen=True, slots=True)
class SessionSplit:
    sessions: int  # sessions in the range (with a session id)
    with_error: int  # of them, sessions that met the error
    reached: int  # of them, sessions that reached the event
    reached_with_error: int  # sessions that did both


def issue_reach(
    conn: psycopg.Connection, project_id: UUID, fingerprint: str, start: datetime, end: datetime
) -> IssueReach:
    row = conn.execute(
        "SELECT count(*), count(DISTINCT user_id), count(DISTINCT session_id) FROM events"
        " WHERE project_id = %s AND fingerprint = %s AND timestamp >= %s AND timestamp < %s",
        (project_id, fingerprint, start, end),
    ).fetchone()
    assert row is not None
    return IssueReach(int(row[0]), int(row[1]), int(row[2]))


def session_split(
    conn: psycopg.Connection,
    project_id: UUID,
    fingerprint: str,
    event_name: str | None,
    start: datetime,
    end: datetime,
) -> SessionSplit:
    """Sessions of the range, those that met the error, and (with ``event_name``) those that
    reached the event, alone and together with the error."""
    row = conn.execute(
        "WITH e AS (SELECT DISTINCT session_id FROM events"
        "  WHERE project_id = %(project)s AND fingerprint = %(fingerprint)s"
        "  AND timestamp >= %(start)s AND timestamp < %(end)s AND session_id IS NOT NULL),"
        " r AS (SELECT DISTINCT session_id FROM events"
        "  WHERE %(name)s::text IS NOT NULL AND project_id = %(project)s AND name = %(name)s"
        "  AND timestamp >= %(start)s AND timestamp < %(end)s AND session_id IS NOT NULL)"
        # Grouped rather than count(DISTINCT): a hash of the sessions, not a sort of every event.
        " SELECT (SELECT count(*) FROM (SELECT session_id FROM events"
        "  WHERE project_id = %(project)s AND timestamp >= %(start)s AND timestamp < %(end)s"
        "  AND session_id IS NOT NULL GROUP BY session_id) s),"
        " (SELECT count(*) FROM e), (SELECT count(*) FROM r),"
        " (SELECT count(*) FROM e JOIN r USING (session_id))",
        {
            "project": project_id,
            "fingerprint": fingerprint,
            "name": event_name,
            "start": start,
            "end": end,
        },
    ).fetchone()
    assert row is not None
    return SessionSplit(*(int(v) for v in row))
