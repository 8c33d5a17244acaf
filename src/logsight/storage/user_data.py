"""Deleting one user's rows from the pipeline tables of a project, counters kept true.

A user is matched by any of several values (``identifiers``): the user id as sent, and, for an
e-mail address, its keyed hash (what is stored when the project hashes addresses), matched in
``events.user_id`` and in the user traits' ``id`` and ``email``.

What is exact: the events go; each issue loses their count (``issues.events`` and
``issue_days``) and, when the user had events in it, one affected user (``issues.users``,
``issue_users``); the user's rows in ``user_rollups_1m`` (exact unique users) go; dead letters
of the project whose bytes contain an identifier go. What stays approximate: the per-minute and
hourly event counts (``event_rollups_*``, ``page_rollups_*``: counts without identities) keep
the deleted events, and the hourly and daily HyperLogLog sketches (``user_sketches_*``: hashed
registers from which no user can be read) still count the user in long-range unique-user
estimates until those days leave retention.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg

_MATCH = (
    "(e.user_id = ANY(%(ids)s) OR e.user_traits->>'id' = ANY(%(ids)s)"
    " OR e.user_traits->>'email' = ANY(%(ids)s))"
)

_DELETE = f"""
WITH gone AS (
    DELETE FROM events e
    WHERE e.project_id = %(project)s AND {_MATCH}
    RETURNING e.project_id, e.timestamp, e.type, e.fingerprint, e.user_id
),
errors AS (
    SELECT fingerprint, (timestamp AT TIME ZONE 'UTC')::date AS day, count(*) AS n
    FROM gone WHERE fingerprint IS NOT NULL AND type = 'error'
    GROUP BY 1, 2
),
days AS (
    UPDATE issue_days d SET events = greatest(d.events - x.n, 0)
    FROM errors x
    WHERE d.project_id = %(project)s AND d.fingerprint = x.fingerprint AND d.day = x.day
    RETURNING 1
),
pairs AS (
    DELETE FROM issue_users u
    WHERE u.project_id = %(project)s
      AND u.user_id IN (SELECT user_id FROM gone WHERE user_id IS NOT NULL)
    RETURNING u.fingerprint
),
per_issue AS (
    SELECT fingerprint, sum(n) AS n FROM errors GROUP BY 1
),
lost_users AS (
    SELECT fingerprint, count(*) AS n FROM pairs GROUP BY 1
),
counted AS (
    UPDATE issues i SET
        events = greatest(i.events - coalesce(p.n, 0), 0),
        users = greatest(i.users - coalesce(l.n, 0), 0)
    FROM (SELECT fingerprint FROM per_issue UNION SELECT fingerprint FROM lost_users) f
    LEFT JOIN per_issue p USING (fingerprint)
    LEFT JOIN lost_users l USING (fingerprint)
    WHERE i.project_id = %(project)s AND i.fingerprint = f.fingerprint
    RETURNING 1
),
minutes AS (
    DELETE FROM user_rollups_1m r
    WHERE r.project_id = %(project)s
      AND r.user_id IN (SELECT user_id FROM gone WHERE user_id IS NOT NULL)
    RETURNING 1
)
SELECT (SELECT count(*) FROM gone), (SELECT count(*) FROM per_issue),
       (SELECT count(*) FROM pairs), (SELECT count(*) FROM minutes),
       (SELECT count(*) FROM days), (SELECT count(*) FROM counted)
"""


@dataclass(frozen=True, slots=True)
class Deleted:
    events: int = 0
    issues_touched: int = 0
    issue_users: int = 0
    user_minutes: int = 0
    dead_letters: int = 0

    def __add__(self, other: Deleted) -> Deleted:
        return Deleted(
            self.events + other.events,
            self.issues_touched + other.issues_touched,
            self.issue_users + other.issue_users,
            self.user_minutes + other.user_minutes,
            self.dead_letters + other.dead_letters,
        )


def delete_user_rows(conn: psycopg.Connection, project_id: UUID, identifiers: list[str]) -> Deleted:
    """One transaction for the project: a failure leaves its counters as they were."""
    with conn.transaction():
        # Issue counters are written by the processor under the same rows; taking them in
        # the processor's order is not possible from here, so a deadlock is possible and is
        # retried by the job.
        row = conn.execute(_DELETE, {"project": project_id, "ids": identifiers}).fetchone()
        letters = conn.execute(
            "DELETE FROM dead_letters WHERE project_id = %s AND EXISTS ("
            " SELECT 1 FROM unnest(%s::text[]) AS i(v)"
            " WHERE position(convert_to(i.v, 'UTF8') IN raw) > 0)",
            (project_id, identifiers),
        ).rowcount
    assert row is not None
    return Deleted(int(row[0]), int(row[1]), int(row[2]), int(row[3]), letters)
