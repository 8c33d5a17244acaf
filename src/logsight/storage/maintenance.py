"""Retention and partitions: ``logsight maintain``, run by the scheduler.

Retention works in whole UTC days, the same in both layouts: a project keeping N days keeps today
and the N days before it, and each older day goes in one piece. The longest
project retention is applied wholesale (dropping daily partitions, or TimescaleDB chunks with
``drop_chunks``, which is cheap); projects that keep less have their older rows deleted. The
rollups and the log lines follow the events at the same day boundaries, and so do the issue counters
(``storage.issues.retention_statement``), reduced by what was removed in the same run.

TimescaleDB's retention policies are not used: they run on the job scheduler's timetable, so
the issue counters could not follow what they drop.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql

from logsight.storage import artifacts
from logsight.storage.issues import retention_statement
from logsight.storage.mode import StorageMode, recorded_mode
from logsight.storage.partitions import (
    PARTITIONED_TABLES,
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
    "log_rollups_1m",
)
# The tables of rows with a timestamp: events and log lines.
ROW_TABLES = PARTITIONED_TABLES


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
    log_partitions: set[date] | None = None,
) -> list[sql.Composed]:
    """The statements one maintenance run executes, each in its own transaction.

    Rows go before the counters that follow them: a run that stops in between leaves the
    counters high until the next run, which still finds the days to subtract. ``partitions``
    are the days ``events`` has a partition for, ``log_partitions`` those of ``logs`` (the same
    days when not given)."""
    statements: list[sql.Composed] = []
    today = now.astimezone(UTC).date()
    first_kept = today - timedelta(days=retention.longest_days)
    if mode is StorageMode.TIMESCALE:
        # A chunk goes once its whole day is before the first day kept.
        statements.extend(
            sql.SQL("SELECT drop_chunks({}, older_than => {})").format(
                sql.Literal(table), sql.Literal(day_start(first_kept))
            )
            for table in (*ROW_TABLES, *ROLLUP_TABLES)
        )
    else:
        # Recent and upcoming days; the processor creates any other day a late event needs.
        wanted = {today + timedelta(days=n) for n in range(-2, ahead_days + 1)}
        existing = {
            "events": partitions,
            "logs": partitions if log_partitions is None else log_partitions,
        }
        for table in ROW_TABLES:
            statements.extend(
                create_statement(day, table) for day in sorted(wanted - existing[table])
            )
            statements.extend(
                sql.SQL("DROP TABLE IF EXISTS {}").format(
                    sql.Identifier(partition_name(day, table))
                )
                for day in sorted(existing[table])
                if day < first_kept
            )
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE bucket < {}").format(
                sql.Identifier(t), sql.Literal(day_start(first_kept))
            )
            for t in ROLLUP_TABLES
        )
    for project_id in retention.deleted:
        pid = sql.Literal(project_id)
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE project_id = {}").format(sql.Identifier(t), pid)
            for t in (*ROW_TABLES, "dead_letters", *ROLLUP_TABLES)
        )
        statements.append(sql.SQL("DELETE FROM deleted_projects WHERE project_id = {}").format(pid))
    for project_id, days in sorted(retention.shorter.items(), key=lambda item: str(item[0])):
        pid = sql.Literal(project_id)
        project_cutoff = sql.Literal(day_start(today - timedelta(days=days)))
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE project_id = {} AND timestamp < {}").format(
                sql.Identifier(t), pid, project_cutoff
            )
            for t in ROW_TABLES
        )
        statements.extend(
            sql.SQL("DELETE FROM {} WHERE project_id = {} AND bucket < {}").format(
                sql.Identifier(t), pid, project_cutoff
            )
            for t in ROLLUP_TABLES
        )
    statements.append(retention_statement(today, retention.longest_days, retention.shorter))
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
            log_partitions=(
                existing_partitions(conn, "logs") if mode is StorageMode.POSTGRES else set()
            ),
        )
        for statement in statements:
            with conn.transaction():
                conn.execute(statement)
        stale = artifacts.delete_stale_chunks(conn)
        log.info(
            "maintenance ran %d statements, removed %d stale upload chunks", len(statements), stale
        )
        return len(statements)


__all__ = ["Retention", "day_start", "plan", "read_retention", "run_maintenance"]
