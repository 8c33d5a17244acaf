"""Alerting reads: rules, channels (never their secret), history with deliveries, the rules due
for evaluation, and the numbers rules compare, taken from the rollups."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from logsight.alerting.rules import EventFilter
from logsight.query.keyset import Key, Order, Row, fetch

RULE_COLUMNS = (
    "r.id, r.project_id, r.name, r.enabled, r.kind, r.condition, r.window_seconds,"
    " r.interval_seconds, r.cooldown_seconds, r.snoozed_until, r.digest_seconds, r.state,"
    " r.state_changed_at, r.last_value, r.last_evaluated_at, r.last_notified_at, r.watermark,"
    " r.created_at, r.updated_at,"
    " ARRAY(SELECT c.channel_id FROM alert_rule_channels c WHERE c.rule_id = r.id"
    " ORDER BY c.channel_id) AS channel_ids"
)
CHANNEL_COLUMNS = (
    "id, project_id, name, type, config, secret IS NOT NULL AS secret_set, created_at, updated_at"
)
HISTORY_COLUMNS = "h.id, h.rule_id, h.kind, h.at, h.value, h.summary, h.details, h.notification_id"


def _rows(conn: psycopg.Connection, query: str, params: Any) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


OLDEST_FIRST = Order(("created_at", "id"), ("created_at", "id"))
NEWEST_FIRST_BY_ID = Order(("h.id",), ("id",), descending=True)


# -- Rules and channels ------------------------------------------------------------------------


def rules(
    conn: psycopg.Connection, project_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    return fetch(
        conn,
        f"SELECT * FROM (SELECT {RULE_COLUMNS} FROM alert_rules r) r"
        " WHERE project_id = %(project)s",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id},
    )


def rule(conn: psycopg.Connection, project_id: UUID, rule_id: UUID) -> Row | None:
    found = _rows(
        conn,
        f"SELECT {RULE_COLUMNS} FROM alert_rules r WHERE r.id = %s AND r.project_id = %s",
        (rule_id, project_id),
    )
    return found[0] if found else None


def channels(
    conn: psycopg.Connection, project_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    return fetch(
        conn,
        f"SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE project_id = %(project)s",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id},
    )


def channel(conn: psycopg.Connection, project_id: UUID, channel_id: UUID) -> Row | None:
    found = _rows(
        conn,
        f"SELECT {CHANNEL_COLUMNS} FROM alert_channels WHERE id = %s AND project_id = %s",
        (channel_id, project_id),
    )
    return found[0] if found else None


def missing_channels(
    conn: psycopg.Connection, project_id: UUID, channel_ids: list[UUID]
) -> list[UUID]:
    """Those of ``channel_ids`` that are not channels of the project."""
    found = {
        row[0]
        for row in conn.execute(
            "SELECT id FROM alert_channels WHERE project_id = %s AND id = ANY(%s)",
            (project_id, channel_ids),
        ).fetchall()
    }
    return [c for c in channel_ids if c not in found]


def issue_exists(conn: psycopg.Connection, project_id: UUID, issue_id: UUID) -> bool:
    return (
        conn.execute(
            "SELECT 1 FROM issues WHERE id = %s AND project_id = %s", (issue_id, project_id)
        ).fetchone()
        is not None
    )


def history(
    conn: psycopg.Connection, rule_id: UUID, *, limit: int, after: Key | None = None
) -> tuple[list[Row], Key | None]:
    """Newest first, each entry with the deliveries of its notification."""
    entries, following = fetch(
        conn,
        f"SELECT {HISTORY_COLUMNS} FROM alert_history h WHERE h.rule_id = %(rule)s",
        NEWEST_FIRST_BY_ID,
        limit=limit,
        after=after,
        params={"rule": rule_id},
    )
    by_notification = deliveries(conn, [e["notification_id"] for e in entries])
    for entry in entries:
        entry["deliveries"] = by_notification.get(entry["notification_id"], [])
    return entries, following


def deliveries(
    conn: psycopg.Connection, notification_ids: list[UUID | None]
) -> dict[UUID, list[dict[str, Any]]]:
    wanted = [n for n in notification_ids if n is not None]
    found: dict[UUID, list[dict[str, Any]]] = {}
    if not wanted:
        return found
    for row in _rows(
        conn,
        "SELECT d.notification_id, d.channel_id, d.channel_type, d.status, d.attempts,"
        " d.response_code, d.error, d.created_at, d.finished_at, n.kind AS notification_kind"
        " FROM alert_deliveries d JOIN alert_notifications n ON n.id = d.notification_id"
        " WHERE d.notification_id = ANY(%s) ORDER BY d.id",
        (wanted,),
    ):
        found.setdefault(row["notification_id"], []).append(row)
    return found


def notification_deliveries(
    conn: psycopg.Connection, notification_id: UUID
) -> list[dict[str, Any]]:
    return deliveries(conn, [notification_id]).get(notification_id, [])


# -- Evaluation --------------------------------------------------------------------------------

DUE_SLACK = timedelta(seconds=10)


def due_rules(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Enabled, not snoozed, and not evaluated within their interval (less a little slack for
    a scheduler that runs a few seconds early)."""
    return _rows(
        conn,
        f"SELECT {RULE_COLUMNS}, p.name AS project_name FROM alert_rules r"
        " JOIN projects p ON p.id = r.project_id"
        " WHERE r.enabled AND (r.snoozed_until IS NULL OR r.snoozed_until <= %(now)s)"
        " AND (r.last_evaluated_at IS NULL OR r.last_evaluated_at"
        "      + make_interval(secs => r.interval_seconds) - %(slack)s <= %(now)s)"
        " ORDER BY r.last_evaluated_at NULLS FIRST, r.id",
        {"now": now, "slack": DUE_SLACK},
    )


def _filter_sql(f: EventFilter) -> sql.Composable:
    parts = [
        sql.SQL(" AND {} = {}").format(sql.Identifier(column), sql.Literal(value))
        for column, value in f.model_dump(exclude_none=True).items()
    ]
    return sql.Composed(parts)


def event_count(
    conn: psycopg.Connection, project_id: UUID, f: EventFilter, start: datetime, end: datetime
) -> int:
    """Matching events with start <= bucket < end, from the per-minute rollup."""
    query = sql.SQL(
        "SELECT coalesce(sum(events), 0) FROM event_rollups_1m"
        " WHERE project_id = %s AND bucket >= %s AND bucket < %s{}"
    ).format(_filter_sql(f))
    row = conn.execute(query, (project_id, start, end)).fetchone()
    return int(row[0]) if row else 0


def error_and_total(
    conn: psycopg.Connection,
    project_id: UUID,
    release: str | None,
    start: datetime,
    end: datetime,
) -> tuple[int, int]:
    row = conn.execute(
        "SELECT coalesce(sum(events) FILTER (WHERE type = 'error'), 0), coalesce(sum(events), 0)"
        " FROM event_rollups_1m WHERE project_id = %(p)s AND bucket >= %(s)s AND bucket < %(e)s"
        " AND (%(r)s::text IS NULL OR release = %(r)s)",
        {"p": project_id, "s": start, "e": end, "r": release},
    ).fetchone()
    return (int(row[0]), int(row[1])) if row else (0, 0)


def worst_release(
    conn: psycopg.Connection, project_id: UUID, min_events: int, start: datetime, end: datetime
) -> tuple[str, int, int] | None:
    """(release, errors, events) of the release with the highest error rate among those with
    at least ``min_events`` events in [start, end) ('' is events without a release)."""
    row = conn.execute(
        "SELECT release, errors, total FROM ("
        "  SELECT release, coalesce(sum(events) FILTER (WHERE type = 'error'), 0) AS errors,"
        "         sum(events) AS total FROM event_rollups_1m"
        "  WHERE project_id = %s AND bucket >= %s AND bucket < %s GROUP BY release) r"
        " WHERE total >= %s ORDER BY errors::float8 / total DESC, total DESC, release LIMIT 1",
        (project_id, start, end, min_events),
    ).fetchone()
    return (str(row[0]), int(row[1]), int(row[2])) if row else None


def unique_users(conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime) -> int:
    row = conn.execute(
        "SELECT count(DISTINCT user_id) FROM user_rollups_1m"
        " WHERE project_id = %s AND bucket >= %s AND bucket < %s",
        (project_id, start, end),
    ).fetchone()
    return int(row[0]) if row else 0


def new_issues(
    conn: psycopg.Connection, project_id: UUID, after: datetime, until: datetime
) -> list[dict[str, Any]]:
    """Issues whose row was created in (after, until]: the first event of each."""
    return _rows(
        conn,
        "SELECT id, title, culprit, level, events, users, created_at AS at FROM issues"
        " WHERE project_id = %s AND created_at > %s AND created_at <= %s"
        " ORDER BY created_at, id LIMIT 50",
        (project_id, after, until),
    )


def regressions(
    conn: psycopg.Connection,
    project_id: UUID,
    issue_id: UUID | None,
    after: datetime,
    until: datetime,
) -> list[dict[str, Any]]:
    return _rows(
        conn,
        "SELECT id, title, culprit, level, events, users, regressed_at AS at FROM issues"
        " WHERE project_id = %(p)s AND (%(i)s::uuid IS NULL OR id = %(i)s)"
        " AND regressed_at > %(a)s AND regressed_at <= %(u)s ORDER BY regressed_at, id LIMIT 50",
        {"p": project_id, "i": issue_id, "a": after, "u": until},
    )


def busiest_issue(
    conn: psycopg.Connection,
    project_id: UUID,
    issue_id: UUID | None,
    metric: str,
    start: datetime,
    end: datetime,
) -> dict[str, Any] | None:
    """The issue with the most events (or distinct users) in [start, end).

    No rollup is kept per issue and minute, so this reads the events of the window through the
    (project, fingerprint, timestamp) index: windows are minutes to hours, and only errors."""
    value = "count(DISTINCT e.user_id)" if metric == "users" else "count(*)"
    found = _rows(
        conn,
        f"SELECT i.id, i.title, {value} AS value FROM events e"
        " JOIN issues i ON i.project_id = e.project_id AND i.fingerprint = e.fingerprint"
        " WHERE e.project_id = %(p)s AND e.type = 'error' AND e.fingerprint IS NOT NULL"
        " AND e.timestamp >= %(s)s AND e.timestamp < %(e)s"
        " AND (%(i)s::uuid IS NULL OR i.id = %(i)s)"
        " GROUP BY i.id, i.title ORDER BY value DESC, i.id LIMIT 1",
        {"p": project_id, "s": start, "e": end, "i": issue_id},
    )
    return found[0] if found else None


def pending_digests(conn: psycopg.Connection, now: datetime) -> list[dict[str, Any]]:
    """Digest rules whose oldest undigested entry has waited a whole digest interval."""
    return _rows(
        conn,
        "SELECT r.id, r.project_id, r.name, r.kind, p.name AS project_name FROM alert_rules r"
        " JOIN projects p ON p.id = r.project_id"
        " WHERE r.digest_seconds IS NOT NULL AND EXISTS (SELECT 1 FROM alert_history h"
        " WHERE h.rule_id = r.id AND h.notification_id IS NULL"
        " AND h.at + make_interval(secs => r.digest_seconds) <= %s)",
        (now,),
    )
