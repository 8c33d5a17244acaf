"""Issue writes: maintenance inside the batch write (set-based, idempotent), the counters'
share of retention, and the status people set (resolve, ignore, reopen).

The CTEs below extend the writer's ``INSERT INTO events ... RETURNING`` statement (the
``inserted`` CTE), so issues are derived from exactly the rows inserted: a redelivered batch
inserts no events and therefore touches no issue. Users affected are counted through
``issue_users``: only (issue, user) pairs that are new add to ``issues.users``.

The counters count the events still stored. Retention removes whole UTC days, so each issue's
events are also counted per day (``issue_days``) and each affected user keeps the last day it
was seen (``issue_users.last_day``); when `logsight maintain` removes days, it takes their
counts off the issues (``retention_statement``) and drops the users last seen before them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

# Mirrors logsight.processing.grouping.title: "Type: value" on one line, else what there is.
TITLE_SQL = r"""left(split_part(btrim(CASE
        WHEN nullif(error->>'type', '') IS NOT NULL AND nullif(error->>'value', '') IS NOT NULL
        THEN (error->>'type') || ': ' || (error->>'value')
        ELSE coalesce(nullif(error->>'type', ''), nullif(error->>'value', ''), message, name,
                      'Error')
    END, E' \t\r\n'), E'\n', 1), 200)"""

# What the events RETURNING clause must provide for these CTEs.
RETURNING_COLUMNS = (
    "event_id",
    "fingerprint",
    "culprit",
    "error->>'type' AS error_type",
    f"{TITLE_SQL} AS title",
)

_SEVERITY = "array_position(ARRAY['debug', 'info', 'warning', 'error', 'fatal'], level)"

ISSUE_CTES = f"""
grouped_errors AS (
    SELECT project_id, fingerprint,
           count(*) AS events,
           min(timestamp) AS first_seen,
           max(timestamp) AS last_seen,
           (array_agg(title ORDER BY timestamp, event_id))[1] AS title,
           (array_agg(culprit ORDER BY timestamp DESC, event_id)
               FILTER (WHERE culprit IS NOT NULL))[1] AS culprit,
           (array_agg(error_type ORDER BY timestamp DESC, event_id)
               FILTER (WHERE error_type IS NOT NULL))[1] AS error_type,
           (array_agg(level ORDER BY {_SEVERITY} DESC NULLS LAST))[1] AS level,
           (array_agg(release ORDER BY timestamp, event_id) FILTER (WHERE release IS NOT NULL))[1]
               AS first_release,
           (array_agg(release ORDER BY timestamp DESC, event_id)
               FILTER (WHERE release IS NOT NULL))[1] AS last_release,
           (array_agg(event_id ORDER BY timestamp, event_id))[1] AS first_event_id,
           (array_agg(event_id ORDER BY timestamp DESC, event_id))[1] AS last_event_id
    FROM inserted
    WHERE fingerprint IS NOT NULL AND type = 'error'
    GROUP BY project_id, fingerprint
),
error_days AS (
    INSERT INTO issue_days AS d (project_id, day, fingerprint, events)
    SELECT project_id, (timestamp AT TIME ZONE 'UTC')::date, fingerprint, count(*)
    FROM inserted
    WHERE fingerprint IS NOT NULL AND type = 'error'
    GROUP BY 1, 2, 3
    ORDER BY 1, 2, 3
    ON CONFLICT (project_id, day, fingerprint) DO UPDATE SET events = d.events + EXCLUDED.events
    RETURNING 1
),
batch_issue_users AS (
    SELECT project_id, fingerprint, user_id, max((timestamp AT TIME ZONE 'UTC')::date) AS last_day
    FROM inserted
    WHERE fingerprint IS NOT NULL AND type = 'error' AND user_id IS NOT NULL
    GROUP BY project_id, fingerprint, user_id
),
new_issue_users AS (
    INSERT INTO issue_users (project_id, fingerprint, user_id, last_day)
    SELECT project_id, fingerprint, user_id, last_day
    FROM batch_issue_users
    ORDER BY project_id, fingerprint, user_id
    ON CONFLICT DO NOTHING
    RETURNING project_id, fingerprint
),
-- Users seen before: only a later day is written (once a day at most per user and issue). The
-- statement's snapshot does not hold the rows inserted just above, so the two never meet.
seen_issue_users AS (
    UPDATE issue_users u SET last_day = b.last_day
    FROM batch_issue_users b
    WHERE u.project_id = b.project_id AND u.fingerprint = b.fingerprint AND u.user_id = b.user_id
      AND u.last_day < b.last_day
    RETURNING 1
),
issue_user_counts AS (
    SELECT project_id, fingerprint, count(*) AS users
    FROM new_issue_users
    GROUP BY project_id, fingerprint
),
upserted_issues AS (
    INSERT INTO issues AS i (
        project_id, fingerprint, title, culprit, error_type, level, first_seen, last_seen,
        events, users, first_release, last_release, first_event_id, last_event_id
    )
    SELECT g.project_id, g.fingerprint, g.title, g.culprit, g.error_type, g.level,
           g.first_seen, g.last_seen, g.events, coalesce(u.users, 0), g.first_release,
           g.last_release, g.first_event_id, g.last_event_id
    FROM grouped_errors g
    LEFT JOIN issue_user_counts u USING (project_id, fingerprint)
    ORDER BY g.project_id, g.fingerprint
    ON CONFLICT (project_id, fingerprint) DO UPDATE SET
        events = i.events + EXCLUDED.events,
        users = i.users + EXCLUDED.users,
        first_seen = least(i.first_seen, EXCLUDED.first_seen),
        last_seen = greatest(i.last_seen, EXCLUDED.last_seen),
        first_release = CASE WHEN EXCLUDED.first_seen < i.first_seen
            THEN coalesce(EXCLUDED.first_release, i.first_release) ELSE i.first_release END,
        first_event_id = CASE WHEN EXCLUDED.first_seen < i.first_seen
            THEN EXCLUDED.first_event_id ELSE i.first_event_id END,
        last_release = CASE WHEN EXCLUDED.last_seen >= i.last_seen
            THEN coalesce(EXCLUDED.last_release, i.last_release) ELSE i.last_release END,
        last_event_id = CASE WHEN EXCLUDED.last_seen >= i.last_seen
            THEN EXCLUDED.last_event_id ELSE i.last_event_id END,
        culprit = CASE WHEN EXCLUDED.last_seen >= i.last_seen
            THEN coalesce(EXCLUDED.culprit, i.culprit) ELSE i.culprit END,
        level = CASE WHEN array_position(ARRAY['debug', 'info', 'warning', 'error', 'fatal'],
                                         EXCLUDED.level)
                        > coalesce(array_position(ARRAY['debug', 'info', 'warning', 'error',
                                                         'fatal'], i.level), 0)
            THEN EXCLUDED.level ELSE i.level END,
        -- A resolved issue that receives an event has regressed; an ignored one reopens once
        -- its "until" moment or event count is reached.
        status = CASE
            WHEN i.status = 'resolved' THEN 'unresolved'
            WHEN i.status = 'ignored' AND (
                (i.ignore_until IS NOT NULL AND now() >= i.ignore_until)
                OR (i.ignore_until_events IS NOT NULL
                    AND i.events + EXCLUDED.events >= i.ignore_until_events))
            THEN 'unresolved'
            ELSE i.status END,
        status_changed_at = CASE
            WHEN i.status = 'resolved' OR (i.status = 'ignored' AND (
                (i.ignore_until IS NOT NULL AND now() >= i.ignore_until)
                OR (i.ignore_until_events IS NOT NULL
                    AND i.events + EXCLUDED.events >= i.ignore_until_events)))
            THEN now() ELSE i.status_changed_at END,
        regressed = i.regressed OR i.status = 'resolved',
        regressed_at = CASE WHEN i.status = 'resolved' THEN now() ELSE i.regressed_at END,
        regression_event_id = CASE WHEN i.status = 'resolved'
            THEN EXCLUDED.first_event_id ELSE i.regression_event_id END,
        resolved_at = CASE WHEN i.status = 'resolved' THEN NULL ELSE i.resolved_at END
    RETURNING 1
)"""


# What `logsight maintain` removed, taken off the issues: for every project, the days before the
# first day it keeps (the same boundary as the events and rollups deleted in that run). An
# "ignore until N more events" keeps its N.
_RETENTION = sql.SQL("""
WITH kept (project_id, first_day) AS (
    SELECT p.id, {today} - coalesce(s.days, {longest})
    FROM projects p
    LEFT JOIN unnest({shorter_ids}::uuid[], {shorter_days}::integer[]) AS s (id, days)
        ON s.id = p.id
),
gone_days AS (
    DELETE FROM issue_days d USING kept k
    WHERE d.project_id = k.project_id AND d.day < k.first_day
    RETURNING d.project_id, d.fingerprint, d.events
),
gone_users AS (
    DELETE FROM issue_users u USING kept k
    WHERE u.project_id = k.project_id AND u.last_day < k.first_day
    RETURNING u.project_id, u.fingerprint
),
gone AS (
    SELECT project_id, fingerprint, sum(events) AS events, sum(users) AS users FROM (
        SELECT project_id, fingerprint, events, 0 AS users FROM gone_days
        UNION ALL
        SELECT project_id, fingerprint, 0, 1 FROM gone_users
    ) g
    GROUP BY project_id, fingerprint
)
UPDATE issues i SET
    events = i.events - g.events,
    users = i.users - g.users,
    ignore_until_events = i.ignore_until_events - g.events
FROM gone g
WHERE i.project_id = g.project_id AND i.fingerprint = g.fingerprint
""")


def retention_statement(today: date, longest_days: int, shorter: dict[Any, int]) -> sql.Composed:
    """Take the days before each project's retention off its issues' counters."""
    ids = sorted(shorter, key=str)
    return _RETENTION.format(
        today=sql.Literal(today),
        longest=sql.Literal(longest_days),
        shorter_ids=sql.Literal(ids),
        shorter_days=sql.Literal([shorter[i] for i in ids]),
    )


def set_status(
    conn: psycopg.Connection,
    project_id: UUID,
    ids: list[UUID],
    status: str,
    *,
    user_id: UUID | None,
    ignore_until: datetime | None = None,
    ignore_count: int | None = None,
) -> list[UUID]:
    """Set the status of the project's issues among ``ids``; returns those that exist.

    Ignoring with a count reopens the issue once it has that many more events; the threshold
    saturates at the largest bigint (never reached) rather than overflowing.
    """
    rows = conn.execute(
        """
        UPDATE issues SET
            status = %(status)s,
            status_changed_at = now(),
            status_changed_by = %(user)s,
            resolved_at = CASE WHEN %(status)s = 'resolved' THEN now() END,
            regressed = CASE WHEN %(status)s = 'resolved' THEN false ELSE regressed END,
            ignore_until = CASE WHEN %(status)s = 'ignored' THEN %(until)s::timestamptz END,
            ignore_until_events = CASE WHEN %(status)s = 'ignored' AND %(count)s::bigint IS NOT NULL
                THEN least(events::numeric + %(count)s::bigint, 9223372036854775807)::bigint END
        WHERE project_id = %(project)s AND id = ANY(%(ids)s)
        RETURNING id
        """,
        {
            "status": status,
            "user": user_id,
            "until": ignore_until,
            "count": ignore_count,
            "project": project_id,
            "ids": ids,
        },
    ).fetchall()
    return [row[0] for row in rows]
