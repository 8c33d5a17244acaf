"""Which storage layout a database uses: TimescaleDB features, or the plain PostgreSQL fallback."""

from __future__ import annotations

from enum import StrEnum

import psycopg


class StorageMode(StrEnum):
    TIMESCALE = "timescale"
    POSTGRES = "postgres"


def recorded_mode(conn: psycopg.Connection) -> StorageMode | None:
    """The layout chosen when the database was first migrated (it never changes afterwards)."""
    row = conn.execute("SELECT to_regclass('logsight_storage') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return None
    mode = conn.execute("SELECT mode FROM logsight_storage").fetchone()
    return StorageMode(mode[0]) if mode else None


def timescale_installed(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def timescale_available(conn: psycopg.Connection) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'"
    ).fetchone()
    return row is not None
