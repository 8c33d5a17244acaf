"""Retention and partitions: ``logsight maintain``, run by the scheduler.

The longest project retention is applied wholesale (dropping partitions or chunks, which is
cheap); projects that keep less have their older rows deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from logsight.storage.mode import StorageMode, recorded_mode
from logsight.storage.partitions import (
    create_statement,
    day_start,
    existing_partitions,
    partition_name,
)

log = logging.getLogger(__name__)

ROLLUP_TABLES = (
    "event_rollups_1m",
    "event_rollups_1h",
    "page_rollups_1m",
    "page_rollups_1h",
    "user_rollups_1m",
    "user_sketches_1h",
    "user_sketches_1d",
)

# Keeps each retention policy's drop_after equal to the longest project retention, replacing
# the policy only when it differs. A continuous aggregate's jobs are listed under its
# materialization hypertable, hence the look-up.
_TIMESCALE_RETENTION = sql.SQL("""
DO $$
DECLARE
    hypertable name := coalesce(
        (SELECT materialization_hypertable_name
         FROM timescaledb_information.continuous_aggregates WHERE view_name = {table}),
        {table});
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM timescaledb_information.jobs
        WHERE proc_name = 'policy_retention'
          AND hypertable_name = hypertable
          AND (config->>'drop_after')::interval = {interval}
    ) THEN
        PERFORM remove_retention_policy({table}::regclass, if_exists => TRUE);
        PERFORM add_retention_policy({table}::regclass, drop_after => {interval});
    END IF;
END
$$""")


@dataclass(frozen=True, slots=True)
class Retention:
    longest_days: int
    shorter: dict[Any, int] = field(default_factory=dict)  # project id → days
    deleted: tuple[Any, ...] = ()  # projects whose rows are still to be purged


def read_retention(conn: psycopg.Connection, default_days: int) -> Retention:
    rows = conn.execute("SELECT id, retention_days FROM projects").fetchall()
    longest = max([days for _, days in rows], default=default_days)
    deleted = conn.execute("SELECT project_id FROM deleted_projects ORDER BY deleted_at").fetchall()
    return Retention(
        longest,
        {pid: days for pid, days in rows if days < longest},
        tuple(pid for (pid,) in deleted),
    )


def plan(
    mode: StorageMode,
    *,
    now: datetime,
    retention: Retention,
    partitions: set[date],
    ahead_days: int,
) -> list[sql.Composed]:
    """The statements one maintenance run executes, each in its own transaction."""
    statements: list[sql.Composed] = []
    interval = sql.Literal(timedelta(days=retention.longest_days))
    if mode is StorageMode.TIMESCALE:
        statements.extend(
            _TIMESCALE_RETENTION.format(table=sql.Literal(table), interval=interval)
            for table in ("events", *ROLLUP_TABLES)
        )
    else:
        today = now.astimezone(UTC).date()
        # Recent and upcoming days; the processor creates any other day a late event needs.
        wanted = {today + timedelta(days=n) for n in range(-2, ahead_days + 1)}
        statements.extend(create_statement(day) for day in sorted(wanted - partitions))
        cutoff_day = today - timedelta(days=retention.longest_days)
        # A partition is dropped once its whole day is past the longest retention.
        statements.extend(
            sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(partition_name(day)))
            for day in sorted(partitions)
            if day < cutoff_day
        )
        cutoff = sql.Literal(now - timedelta(days=retention.longest_days))
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE bucket < {}").format(sql.Identifier(t), cutoff)
            for t in ROLLUP_TABLES
        )
    for project_id in retention.deleted:
        pid = sql.Literal(project_id)
        tables = ["events", "dead_letters"]
        if mode is StorageMode.POSTGRES:
            # Continuous aggregates follow the events they are computed from.
            tables += ROLLUP_TABLES
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE project_id = {}").format(sql.Identifier(t), pid)
            for t in tables
        )
        statements.append(sql.SQL("DELETE FROM deleted_projects WHERE project_id = {}").format(pid))
    for project_id, days in sorted(retention.shorter.items(), key=lambda item: str(item[0])):
        project_cutoff = sql.Literal(now - timedelta(days=days))
        pid = sql.Literal(project_id)
        statements.append(
            sql.SQL("DELETE FROM events WHERE project_id = {} AND timestamp < {}").format(
                pid, project_cutoff
            )
        )
        if mode is StorageMode.POSTGRES:
            statements.extend(
                sql.SQL("DELETE FROM {} WHERE project_id = {} AND bucket < {}").format(
                    sql.Identifier(t), pid, project_cutoff
                )
                for t in ROLLUP_TABLES
            )
    return statements


def run_maintenance(
    database_url: str, *, default_retention_days: int, ahead_days: int, now: datetime | None = None
) -> int:
    """Apply retention and create upcoming partitions; returns the statements executed."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        mode = recorded_mode(conn)
        if mode is None:
            raise RuntimeError("database is not migrated: run `logsight migrate` first")
        statements = plan(
            mode,
            now=now or datetime.now(UTC),
            retention=read_retention(conn, default_retention_days),
            partitions=existing_partitions(conn) if mode is StorageMode.POSTGRES else set(),
            ahead_days=ahead_days,
        )
        for statement in statements:
            with conn.transaction():
                conn.execute(statement)
        log.info("maintenance ran %d statements", len(statements))
        return len(statements)


__all__ = ["Retention", "day_start", "plan", "read_retention", "run_maintenance"]
