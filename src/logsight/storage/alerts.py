"""Alerting writes: rules and channels (through the API), and what evaluation and delivery
record. Every change of a rule's state is a claim: an UPDATE whose WHERE names the state it
leaves, so of two evaluations racing (overlapping schedules, a retried invocation) exactly one
gets the row back and notifies."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

RULE_FIELDS = frozenset(
    {
        "name",
        "enabled",
        "kind",
        "condition",
        "window_seconds",
        "interval_seconds",
        "cooldown_seconds",
        "snoozed_until",
        "digest_seconds",
    }
)
CHANNEL_FIELDS = frozenset({"name", "config", "secret"})
# A delivery claimed this long ago by a worker that never finished (a timed-out invocation)
# may be claimed again.
STALE_CLAIM = timedelta(minutes=5)


def _value(column: str, value: Any) -> Any:
    return Jsonb(value) if column in ("condition", "config") else value


def _set_clause(changes: Mapping[str, Any]) -> sql.Composable:
    return sql.SQL(", ").join(
        sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes
    )


# -- Channels ----------------------------------------------------------------------------------


def create_channel(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    name: str,
    type: str,
    config: dict[str, Any],
    secret: bytes | None,
) -> UUID:
    row = conn.execute(
        "INSERT INTO alert_channels (project_id, name, type, config, secret)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (project_id, name, type, Jsonb(config), secret),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def update_channel(conn: psycopg.Connection, channel_id: UUID, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - CHANNEL_FIELDS
    if unknown:
        raise ValueError(f"not a channel field: {sorted(unknown)}")
    if not changes:
        return
    conn.execute(
        sql.SQL("UPDATE alert_channels SET {}, updated_at = now() WHERE id = %s").format(
            _set_clause(changes)
        ),
        (*(_value(k, v) for k, v in changes.items()), channel_id),
    )


def delete_channel(conn: psycopg.Connection, channel_id: UUID) -> None:
    # What was still to be sent there can no longer be: logged as such, not left pending.
    conn.execute(
        "UPDATE alert_deliveries SET status = 'failed', error = 'channel deleted',"
        " finished_at = now() WHERE channel_id = %s AND status IN ('pending', 'sending')",
        (channel_id,),
    )
    conn.execute("DELETE FROM alert_channels WHERE id = %s", (channel_id,))


# -- Rules -------------------------------------------------------------------------------------


def create_rule(
    conn: psycopg.Connection,
    project_id: UUID,
    fields: Mapping[str, Any],
    channel_ids: list[UUID],
    created_by: UUID | None,
) -> UUID:
    unknown = set(fields) - RULE_FIELDS
    if unknown:
        raise ValueError(f"not a rule field: {sorted(unknown)}")
    columns = ["project_id", "created_by", *fields]
    row = conn.execute(
        sql.SQL("INSERT INTO alert_rules ({}) VALUES ({}) RETURNING id").format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        ),
        (project_id, created_by, *(_value(k, v) for k, v in fields.items())),
    ).fetchone()
    assert row is not None
    rule_id = UUID(str(row[0]))
    set_rule_channels(conn, rule_id, channel_ids)
    return rule_id


def update_rule(conn: psycopg.Connection, rule_id: UUID, changes: Mapping[str, Any]) -> None:
    unknown = set(changes) - RULE_FIELDS
    if unknown:
        raise ValueError(f"not a rule field: {sorted(unknown)}")
    if not changes:
        return
    reset = ""
    if {"kind", "condition", "window_seconds"} & set(changes):
        # A new condition starts from "ok": its old state described another question.
        reset = ", state = 'ok', state_changed_at = NULL, last_value = NULL, watermark = NULL"
    conn.execute(
        sql.SQL("UPDATE alert_rules SET {}, updated_at = now(){} WHERE id = %s").format(
            _set_clause(changes), sql.SQL(reset)
        ),
        (*(_value(k, v) for k, v in changes.items()), rule_id),
    )


def set_rule_channels(conn: psycopg.Connection, rule_id: UUID, channel_ids: list[UUID]) -> None:
    conn.execute("DELETE FROM alert_rule_channels WHERE rule_id = %s", (rule_id,))
    if channel_ids:
        conn.execute(
            "INSERT INTO alert_rule_channels (rule_id, channel_id)"
            " SELECT %s, unnest(%s::uuid[]) ON CONFLICT DO NOTHING",
            (rule_id, channel_ids),
        )


def delete_rule(conn: psycopg.Connection, rule_id: UUID) -> None:
    conn.execute("DELETE FROM alert_rules WHERE id = %s", (rule_id,))


# -- Evaluation: claims ------------------------------------------------------------------------


def record_evaluations(
    conn: psycopg.Connection,
    now: datetime,
    values: list[tuple[UUID, float | None]],
    watermarks: list[UUID],
) -> None:
    """One statement for a run's evaluations: when and what each rule read; occurrence rules
    in ``watermarks`` found nothing new up to ``now``."""
    if not values:
        return
    conn.execute(
        "UPDATE alert_rules r SET last_evaluated_at = greatest(r.last_evaluated_at, %(now)s),"
        " last_value = v.value,"
        " watermark = CASE WHEN r.id = ANY(%(marks)s) THEN greatest(r.watermark, %(now)s)"
        "                  ELSE r.watermark END"
        " FROM unnest(%(ids)s::uuid[], %(values)s::float8[]) AS v(id, value) WHERE r.id = v.id",
        {
            "now": now,
            "ids": [rule_id for rule_id, _ in values],
            "values": [value for _, value in values],
            "marks": watermarks,
        },
    )


def claim_firing(conn: psycopg.Connection, rule_id: UUID, now: datetime) -> bool:
    return _claimed(
        conn,
        "UPDATE alert_rules SET state = 'firing', state_changed_at = %(now)s,"
        " last_notified_at = %(now)s WHERE id = %(rule)s AND state = 'ok' RETURNING id",
        {"rule": rule_id, "now": now},
    )


def claim_resolved(conn: psycopg.Connection, rule_id: UUID, now: datetime) -> bool:
    return _claimed(
        conn,
        "UPDATE alert_rules SET state = 'ok', state_changed_at = %(now)s"
        " WHERE id = %(rule)s AND state = 'firing' RETURNING id",
        {"rule": rule_id, "now": now},
    )


def claim_repeat(conn: psycopg.Connection, rule_id: UUID, now: datetime) -> bool:
    return _claimed(
        conn,
        "UPDATE alert_rules SET last_notified_at = %(now)s WHERE id = %(rule)s"
        " AND state = 'firing'"
        " AND last_notified_at + make_interval(secs => cooldown_seconds) <= %(now)s RETURNING id",
        {"rule": rule_id, "now": now},
    )


def claim_watermark(
    conn: psycopg.Connection, rule_id: UUID, seen: datetime | None, until: datetime
) -> bool:
    """Occurrence rules: (seen, until] is this evaluation's to report, if nobody moved the
    watermark meanwhile."""
    return _claimed(
        conn,
        "UPDATE alert_rules SET watermark = %(until)s WHERE id = %(rule)s"
        " AND watermark IS NOT DISTINCT FROM %(seen)s RETURNING id",
        {"rule": rule_id, "seen": seen, "until": until},
    )


def _claimed(conn: psycopg.Connection, statement: str, params: dict[str, Any]) -> bool:
    return conn.execute(statement, params).fetchone() is not None


# -- Notifications, history, deliveries --------------------------------------------------------


def create_notification(
    conn: psycopg.Connection,
    *,
    notification_id: UUID,
    project_id: UUID,
    rule_id: UUID | None,
    kind: str,
    payload: dict[str, Any],
    channel_ids: list[UUID] | None = None,
) -> None:
    """The notification and one pending delivery per channel (the rule's, or those given)."""
    conn.execute(
        "INSERT INTO alert_notifications (id, project_id, rule_id, kind, payload)"
        " VALUES (%s, %s, %s, %s, %s)",
        (notification_id, project_id, rule_id, kind, Jsonb(payload)),
    )
    if channel_ids is None:
        conn.execute(
            "INSERT INTO alert_deliveries (notification_id, channel_id, channel_type)"
            " SELECT %s, c.id, c.type FROM alert_rule_channels rc"
            " JOIN alert_channels c ON c.id = rc.channel_id WHERE rc.rule_id = %s"
            " ORDER BY c.id ON CONFLICT DO NOTHING",
            (notification_id, rule_id),
        )
    else:
        conn.execute(
            "INSERT INTO alert_deliveries (notification_id, channel_id, channel_type)"
            " SELECT %s, c.id, c.type FROM alert_channels c WHERE c.id = ANY(%s)"
            " AND c.project_id = %s ORDER BY c.id ON CONFLICT DO NOTHING",
            (notification_id, channel_ids, project_id),
        )


def add_history(
    conn: psycopg.Connection,
    *,
    project_id: UUID,
    rule_id: UUID,
    kind: str,
    at: datetime,
    value: float | None,
    summary: str,
    details: dict[str, Any],
    notification_id: UUID | None,
) -> None:
    conn.execute(
        "INSERT INTO alert_history"
        " (project_id, rule_id, kind, at, value, summary, details, notification_id)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (project_id, rule_id, kind, at, value, summary, Jsonb(details), notification_id),
    )


def take_undigested(
    conn: psycopg.Connection, rule_id: UUID, notification_id: UUID
) -> list[dict[str, Any]]:
    """Attach the rule's waiting entries to the digest ``notification_id``; a concurrent digest
    that took them first leaves none (its UPDATE holds the rows, ours then sees them taken)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE alert_history SET notification_id = %s"
            " WHERE rule_id = %s AND notification_id IS NULL"
            " RETURNING kind, at, value, summary, details",
            (notification_id, rule_id),
        ).fetchall()


def set_notification_payload(
    conn: psycopg.Connection, notification_id: UUID, payload: dict[str, Any]
) -> None:
    conn.execute(
        "UPDATE alert_notifications SET payload = %s WHERE id = %s",
        (Jsonb(payload), notification_id),
    )


def mark_digested(conn: psycopg.Connection, rule_id: UUID, now: datetime) -> None:
    conn.execute("UPDATE alert_rules SET last_digest_at = %s WHERE id = %s", (now, rule_id))


def claim_deliveries(
    conn: psycopg.Connection, notification_ids: list[UUID] | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Pending deliveries (or stale claims), now claimed by this worker: status 'sending'. Rows
    another worker is claiming are skipped, so two workers never send the same one."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "UPDATE alert_deliveries d SET status = 'sending', claimed_at = now()"
            " FROM alert_notifications n, alert_channels c"
            " WHERE d.id IN (SELECT id FROM alert_deliveries"
            "   WHERE (status = 'pending'"
            "          OR (status = 'sending' AND claimed_at < now() - %(stale)s))"
            "   AND channel_id IS NOT NULL"
            "   AND (%(ids)s::uuid[] IS NULL OR notification_id = ANY(%(ids)s))"
            "   ORDER BY id LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " AND n.id = d.notification_id AND c.id = d.channel_id"
            " RETURNING d.id, d.notification_id, d.channel_id, c.type, c.config, c.secret,"
            " n.payload",
            {"stale": STALE_CLAIM, "ids": notification_ids, "limit": limit},
        ).fetchall()


def finish_delivery(
    conn: psycopg.Connection,
    delivery_id: int,
    *,
    status: str,
    attempts: int,
    response_code: int | None,
    error: str | None,
) -> None:
    conn.execute(
        "UPDATE alert_deliveries SET status = %s, attempts = attempts + %s, response_code = %s,"
        " error = %s, finished_at = now() WHERE id = %s",
        (status, attempts, response_code, error and error[:1000], delivery_id),
    )
