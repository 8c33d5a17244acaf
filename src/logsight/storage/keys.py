"""Ingest key look-ups for the ingest path, cached briefly so most requests skip the database."""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from uuid import UUID

import psycopg

from logsight.storage.db import Database

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

    def allows_origin(self, origin: str | None) -> bool:
        if not self.allowed_origins or origin is None:
            return True
        return "*" in self.allowed_origins or origin.rstrip("/") in self.allowed_origins


class KeyStore:
    def __init__(self, db: Database, ttl_seconds: float) -> None:
        self._db = db
        self._ttl = ttl_seconds
        self._cache: dict[str, tuple[float, IngestKey | None]] = {}
        self._lock = threading.Lock()

    def lookup(self, public_key: str) -> IngestKey | None:
        """The key, or None when unknown. Raises psycopg.Error if the database is unreachable
        and the key is not cached."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(public_key)
        if cached is not None and cached[0] > now:
            return cached[1]
        with self._db.connection() as conn:
            row = conn.execute(
                "SELECT k.id, k.project_id, k.allowed_origins, k.revoked_at IS NOT NULL, p.number"
                " FROM ingest_keys k JOIN projects p ON p.id = k.project_id"
                " WHERE k.public_key = %s",
                (public_key,),
            ).fetchone()
        key = (
            IngestKey(row[0], row[1], tuple(o.rstrip("/") for o in row[2]), row[3], row[4])
            if row
            else None
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[public_key] = (now + self._ttl, key)
        return key


def create_key(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    label: str = "",
    allowed_origins: list[str] | None = None,
) -> str:
    public_key = new_public_key()
    conn.execute(
        "INSERT INTO ingest_keys (project_id, public_key, label, allowed_origins)"
        " VALUES (%s, %s, %s, %s)",
        (project_id, public_key, label, [o.rstrip("/") for o in allowed_origins or []]),
    )
    return public_key


def revoke_key(conn: psycopg.Connection, public_key: str) -> bool:
    cur = conn.execute(
        "UPDATE ingest_keys SET revoked_at = now() WHERE public_key = %s AND revoked_at IS NULL",
        (public_key,),
    )
    return cur.rowcount == 1
