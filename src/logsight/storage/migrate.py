"""Ordered plain-SQL migrations, recorded in a table, safe to run twice or concurrently.

Files are ``NNNN_name.sql``; a migration whose layout differs between TimescaleDB and plain
PostgreSQL comes as ``NNNN_name.timescale.sql`` and ``NNNN_name.postgres.sql``, and the variant
for the database's storage mode is applied.

An applied migration is not edited, with one exception: a text that could fail on a fresh
database may be revised when a later migration brings the databases that applied the earlier
text to the same state. The earlier checksums are kept in ``REVISED`` so that those databases
are not warned about a change.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from dataclasses import dataclass
from importlib import resources

import psycopg

from logsight.storage.mode import (
    ENABLE_TIMESCALE,
    StorageMode,
    recorded_mode,
    timescale_available,
    timescale_installed,
    timescale_preloaded,
)

log = logging.getLogger(__name__)

_FILE = re.compile(
    r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)(?:\.(?P<variant>timescale|postgres))?\.sql$"
)
# Any constant works; it only has to be the same for every migrating process.
_ADVISORY_LOCK = 0x4C6F6753
# A migration chosen as a deadlock's victim (TimescaleDB's background jobs take locks of their
# own) is rolled back whole; it is tried again this many times in all.
_ATTEMPTS = 3

# filename → checksums of earlier texts that databases may have applied.
REVISED: dict[str, frozenset[str]] = {
    # Created continuous aggregates with refresh policies that 0005 dropped while a refresh job
    # could be running; 0014 replaces them with tables.
    "0002_events.timescale.sql": frozenset(
        {"ceeed444d387d22e43f04a6930b998efa8f88266fba62821bb2a30e368902ca2"}
    ),
    "0005_query_rollups.timescale.sql": frozenset(
        {"7b2f408c47bb3b0afeb47ee7b07353e5b97cfdfc47ed49d007b40d08dc0701e2"}
    ),
}


@dataclass(frozen=True, slots=True)
class Migration:
    version: str
    name: str
    filename: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available_files() -> dict[str, str]:
    package = resources.files("logsight.storage.migrations")
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in package.iterdir()
        if entry.name.endswith(".sql")
    }


def plan(files: dict[str, str], mode: StorageMode) -> list[Migration]:
    """The migrations for ``mode``, in order, choosing each version's variant for that mode."""
    by_version: dict[str, dict[str | None, tuple[str, str]]] = {}
    for filename, sql in files.items():
        match = _FILE.match(filename)
        if match is None:
            raise MigrationError(f"migration file {filename!r} is not NNNN_name[.variant].sql")
        variants = by_version.setdefault(match["version"], {})
        variants[match["variant"]] = (filename, sql)
    chosen: list[Migration] = []
    for version in sorted(by_version):
        variants = by_version[version]
        pick = variants.get(mode.value) or variants.get(None)
        if pick is None:
            raise MigrationError(f"migration {version} has no variant for {mode.value}")
        filename, sql = pick
        name = _FILE.match(filename)["name"]  # type: ignore[index]
        chosen.append(Migration(version, name, filename, sql))
    return chosen


def choose_mode(conn: psycopg.Connection, preference: str, database_url: str) -> StorageMode:
    """Pick the layout for a database that has none yet. ``preference``: auto, on or off.

    ``conn`` (the migrating connection, which holds the migration lock) only reads the
    catalog; the extension is created on a connection of its own to ``database_url``, so that
    a server ending that session (TimescaleDB installed but not preloaded) costs nothing.
    """
    if preference == "off":
        return StorageMode.POSTGRES
    if not timescale_available(conn):
        if preference == "on":
            raise MigrationError(
                "LOGSIGHT_TIMESCALE=on but the timescaledb extension is not available"
            )
        return StorageMode.POSTGRES
    if timescale_preloaded(conn) is False:
        return _without_timescale(preference, "TimescaleDB is installed but not preloaded")
    if timescale_installed(conn):
        return StorageMode.TIMESCALE
    try:
        with psycopg.connect(database_url, autocommit=True) as side:
            side.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    except psycopg.OperationalError as exc:
        # The session ended: what TimescaleDB's library does when it is not preloaded.
        return _without_timescale(
            preference, f"CREATE EXTENSION timescaledb ended the session ({_first_line(exc)})"
        )
    except psycopg.Error as exc:
        if preference == "on":
            raise MigrationError(f"cannot enable TimescaleDB: {exc}") from exc
        log.warning(
            "TimescaleDB is available but cannot be enabled (%s); using plain PostgreSQL",
            _first_line(exc),
        )
        return StorageMode.POSTGRES
    return StorageMode.TIMESCALE


def _without_timescale(preference: str, why: str) -> StorageMode:
    if preference == "on":
        raise MigrationError(f"LOGSIGHT_TIMESCALE=on but {why}: {ENABLE_TIMESCALE}")
    # One line: the layout is kept for the database's life, so the fix is for the next one.
    log.warning(
        "%s: using plain PostgreSQL for this database. To use TimescaleDB, %s before the first "
        "migration (or set LOGSIGHT_TIMESCALE=off to choose plain PostgreSQL quietly).",
        why,
        ENABLE_TIMESCALE,
    )
    return StorageMode.POSTGRES


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def migrate(
    database_url: str, *, timescale: str = "auto", files: dict[str, str] | None = None
) -> list[str]:
    """Apply pending migrations (``files``: name → SQL, the package's by default); return the
    filenames applied (empty when up to date)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        # Concurrent migrators queue here; the second finds nothing left to do.
        conn.execute("SELECT pg_advisory_lock(%s)", (_ADVISORY_LOCK,))
        try:
            return _migrate_locked(
                conn, database_url, timescale, available_files() if files is None else files
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_ADVISORY_LOCK,))


def _migrate_locked(
    conn: psycopg.Connection, database_url: str, timescale: str, files: dict[str, str]
) -> list[str]:
    mode = recorded_mode(conn)
    if mode is None:
        mode = choose_mode(conn, timescale, database_url)
        with conn.transaction():
            conn.execute(
                "CREATE TABLE IF NOT EXISTS logsight_storage ("
                " mode text NOT NULL CHECK (mode IN ('timescale', 'postgres')),"
                " singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton))"
            )
            conn.execute(
                "INSERT INTO logsight_storage (mode) VALUES (%s) ON CONFLICT DO NOTHING",
                (mode.value,),
            )
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " version text PRIMARY KEY, filename text NOT NULL, checksum text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
    applied = {
        row[0]: row[1]
        for row in conn.execute("SELECT version, checksum FROM schema_migrations").fetchall()
    }
    done: list[str] = []
    for migration in plan(files, mode):
        if migration.version in applied:
            checksum = applied[migration.version]
            if checksum != migration.checksum and checksum not in REVISED.get(
                migration.filename, ()
            ):
                log.warning("migration %s changed after it was applied", migration.filename)
            continue
        _apply(conn, migration)
        log.info("applied migration %s", migration.filename)
        done.append(migration.filename)
    return done


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO schema_migrations (version, filename, checksum)"
                    " VALUES (%s, %s, %s)",
                    (migration.version, migration.filename, migration.checksum),
                )
            return
        except psycopg.errors.DeadlockDetected as exc:
            if attempt == _ATTEMPTS:
                raise
            log.warning(
                "migration %s was rolled back by a deadlock (%s); trying it again",
                migration.filename,
                _first_line(exc),
            )
            time.sleep(attempt)
