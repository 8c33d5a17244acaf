"""Ingest key look-ups for the ingest path, cached briefly so most requests skip the database.

A looked-up key is trusted for ``ttl_seconds`` (LOGSIGHT_KEY_CACHE_SECONDS): that is how long a
revocation or a project deletion can take to stop ingest. Past it the key is looked up again;
only if the database cannot be reached is the older answer used, for at most ``stale_seconds``,
so an outage of the database does not stop ingest for the keys in use (their events are still
queued durably; the queue waits for the database, not the client).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg

from logsight.storage.db import Database, Outage

KEY_PREFIX = "lsk_"


def new_public_key() -> str:
    # Letters, digits and "_" only: Sentry's JavaScript SDKs reject a DSN whose key has more.
    return KEY_PREFIX + secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class IngestKey:
    id: UUID
    project_id: UUID
    allowed_origins: tuple[str, ...]
    revoked: bool
    project_number: int
    # The project's quotas (None: the settings' defaults, 0: unlimited).
    events_per_minute: int | None = None
    events_per_month: int | None = None
    key_events_per_second: int | None = None

    def allows_origin(self, origin: str | None) -> bool:
        if not self.allowed_origins or origin is None:
            return True
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins


class KeyStore:
    def __init__(
        self,
        db: Database,
        ttl_seconds: float,
        *,
        stale_seconds: float = 0.0,
        outage: Outage | None = None,
    ) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._stale = stale_seconds
        self._outage = outage or Outage()
        # public key -> (when it was read, the key or None for unknown)
        self._cache: dict[str, tuple[float, IngestKey | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, public_key: str) -> IngestKey | None:
        """The key, or None when unknown. Raises psycopg.Error if the database cannot answer
        and no recent enough answer is cached."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(public_key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        stale = cached if cached is not None and now - cached[0] < self._stale else None
        if self._outage.active():
            if stale is not None:
                return stale[1]
            raise psycopg.OperationalError("the database was unreachable a moment ago")
        try:
            key = self._fetch(public_key)
        except psycopg.OperationalError:
            self._outage.record()
            if stale is not None:
                return stale[1]
            raise
        self._outage.clear()
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[public_key] = (now, key)
        return key

    def _fetch(self, public_key: str) -> IngestKey | None:
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT k.id, k.project_id, k.allowed_origins, k.revoked_at IS NOT NULL, p.number,"
                " p.events_per_minute, p.events_per_month, p.key_events_per_second"
                " FROM ingest_keys k JOIN projects p ON p.id = k.project_id"
                " WHERE k.public_key = %s",
                (public_key,),
            ).fetchone()
        if row is None:
            return None
        return IngestKey(row[0], row[1], tuple(o.rstrip("/") for o in row[2]), *row[3:])


def create_key(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    label: str = "",
    allowed_origins: list[str] | None = None,
) -> str:
    public_key = new_public_key()
    insert_key(conn, project_id, public_key, label, allowed_origins or [])
    return public_key


def insert_key(
    conn: psycopg.Connection, project_id: UUID, public_key: str, label: str, origins: list[str]
) -> UUID:
    row = conn.execute(
        "INSERT INTO ingest_keys (project_id, public_key, label, allowed_origins)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (project_id, public_key, label, [o.rstrip("/") for o in origins]),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def update_key(
    conn: psycopg.Connection, key_id: UUID, *, label: str | None, origins: list[str] | None
) -> None:
    """Change what is given (None: leave as is)."""
    conn.execute(
        "UPDATE ingest_keys SET label = coalesce(%s, label),"
        " allowed_origins = coalesce(%s, allowed_origins) WHERE id = %s",
        (label, origins, key_id),
    )


def revoke_key_id(conn: psycopg.Connection, key_id: UUID) -> None:
    conn.execute("UPDATE ingest_keys SET revoked_at = now() WHERE id = %s", (key_id,))


def revoke_key(conn: psycopg.Connection, public_key: str) -> bool:
    cur = conn.execute(
        "UPDATE ingest_keys SET revoked_at = now() WHERE public_key = %s AND revoked_at IS NULL",
        (public_key,),
    )
    return cur.rowcount == 1


def project_keys(
    conn: psycopg.Connection, project_id: UUID
) -> list[tuple[str, str, list[str], datetime | None]]:
    """(public key, label, allowed origins, revoked at) of every key of the project, oldest
    first."""
    return conn.execute(
        "SELECT public_key, label, allowed_origins, revoked_at FROM ingest_keys"
        " WHERE project_id = %s ORDER BY created_at",
        (project_id,),
    ).fetchall()


def oldest_active_key(conn: psycopg.Connection, project_id: UUID) -> str | None:
    row = conn.execute(
        "SELECT public_key FROM ingest_keys WHERE project_id = %s AND revoked_at IS NULL"
        " ORDER BY created_at LIMIT 1",
        (project_id,),
    ).fetchone()
    return None if row is None else str(row[0])
