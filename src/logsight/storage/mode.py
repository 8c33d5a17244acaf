"""Which storage layout a database uses: TimescaleDB features, or the plain PostgreSQL fallback."""

from __future__ import annotations

from enum import StrEnum
from pathlib import PurePosixPath

import psycopg

# What TimescaleDB needs before CREATE EXTENSION can work; said wherever it is missing.
ENABLE_TIMESCALE = (
    "add timescaledb to shared_preload_libraries in postgresql.conf and restart PostgreSQL"
)


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


def timescale_preloaded(conn: psycopg.Connection) -> bool | None:
    """Whether the server preloads TimescaleDB's library (shared_preload_libraries), without
    which creating or using the extension ends the session with FATAL. None when this role may
    not read the setting (it needs pg_read_all_settings)."""
    try:
        with conn.transaction():
            row = conn.execute("SELECT current_setting('shared_preload_libraries')").fetchone()
    except psycopg.errors.InsufficientPrivilege:
        return None
    libraries = [entry.strip().strip('"') for entry in (row[0] if row else "").split(",")]
    # Entries may be paths ($libdir/timescaledb) or carry a version (timescaledb-2.14.2).
    return any(PurePosixPath(entry).name.startswith("timescaledb") for entry in libraries)
