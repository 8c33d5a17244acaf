"""One long-lived database connection per execution environment, replaced when it breaks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

CONNECT_TIMEOUT_SECONDS = 5


class Database:
    """Lazily connects; hands out the same connection until it is found broken.

    Each thread gets its own connection, which on Lambda (one thread) is simply one connection
    per execution environment kept across warm invocations.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._local = threading.local()

    def _open(self) -> psycopg.Connection:
        conn = psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="logsight",
        )
        self._local.conn = conn
        return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or conn.broken:
            conn = self._open()
        try:
            yield conn
        except psycopg.OperationalError:
            # The connection may be unusable (server restart, network); start afresh next time.
            self.reset()
            raise

    def reset(self) -> None:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()


class Outage:
    """Remembers for a moment that the database could not be reached.

    Ingest can answer without the database for a while (cached keys, quotas failing open); once
    one call found it down, the others fall back at once instead of each waiting for its own
    connect timeout, and the database is tried again after ``seconds``.
    """

    def __init__(self, seconds: float = 2.0) -> None:
        self._seconds = seconds
        self._until = 0.0

    def active(self) -> bool:
        return time.monotonic() < self._until

    def record(self) -> None:
        self._until = time.monotonic() + self._seconds

    def clear(self) -> None:
        self._until = 0.0
