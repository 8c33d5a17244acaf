"""Daily partitions of ``events`` and ``logs`` on plain PostgreSQL (TimescaleDB makes its own
chunks). Both tables are partitioned on the same days: a batch may carry either."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

import psycopg
from psycopg import sql

PARTITIONED_TABLES = ("events", "logs")
_NAME = re.compile(r"^(?:events|logs)_p(\d{8})$")
_LOCK = 0x4C6F6750


def partition_name(day: date, table: str = "events") -> str:
    return f"{table}_p{day:%Y%m%d}"


def day_of(name: str) -> date | None:
    match = _NAME.match(name)
    return datetime.strptime(match[1], "%Y%m%d").replace(tzinfo=UTC).date() if match else None


def day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def create_statement(day: date, table: str = "events") -> sql.Composed:
    return sql.SQL(
        "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
    ).format(
        sql.Identifier(partition_name(day, table)),
        sql.Identifier(table),
        sql.Literal(day_start(day)),
        sql.Literal(day_start(day + timedelta(days=1))),
    )


def existing_partitions(conn: psycopg.Connection, table: str = "events") -> set[date]:
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = %s::regclass",
        (table,),
    ).fetchall()
    return {d for (name,) in rows if (d := day_of(name)) is not None}


class PartitionManager:
    """Creates the partitions a batch needs, remembering which exist to skip the catalog."""

    def __init__(self) -> None:
        self._known: set[date] = set()
        self._lock = threading.Lock()

    def ensure(self, conn: psycopg.Connection, days: Iterable[date]) -> None:
        with self._lock:
            missing = set(days) - self._known
        if not missing:
            return
        for table in PARTITIONED_TABLES:
            # A database migrated only up to an earlier version has no logs table yet.
            row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if not (row and row[0]):
                continue
            for day in sorted(missing - existing_partitions(conn, table)):
                # Serialize creators so concurrent processors don't trip over the same DDL.
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
                    conn.execute(create_statement(day, table))
        with self._lock:
            self._known |= missing

    def forget(self, days: Iterable[date]) -> None:
        with self._lock:
            self._known -= set(days)
