"""One long-lived database connection per execution environment, replaced when it breaks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import psycopg

CONNECT_TIMEOUT_SECONDS = 5


class Database:
    """Lazily connects; hands out the same connection until it is found broken.

    By default each thread gets its own connection, which on Lambda (one thread) is simply one
    connection per execution environment kept across warm invocations, and lets the
    processor's pollers write their batches in parallel transactions.

    ``shared=True`` gives every thread of the process the same connection instead (psycopg
    connections are thread-safe; statements from several threads take turns). For occasional
    autocommit reads such as the ingest key look-ups: the local gateway runs many environments
    as threads of one process, and a connection (and a PostgreSQL backend) for each would sit
    idle between look-ups that the key cache makes rare.
    """

    def __init__(self, url: str, *, shared: bool = False) -> None:
        self.url = url
        self._shared = shared
        self._local = threading.local()
        self._shared_conn: psycopg.Connection | None = None
        self._lock = threading.Lock()

    def _open(self) -> psycopg.Connection:
        return psycopg.connect(
            self.url,
            autocommit=True,
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            application_name="logsight",
        )

    def _guard(self) -> AbstractContextManager[object]:
        # A thread's own connection needs no lock; the shared one is opened and replaced once.
        return self._lock if self._shared else nullcontext()

    def _current(self) -> psycopg.Connection | None:
        if self._shared:
            return self._shared_conn
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        return conn

    def _set(self, conn: psycopg.Connection | None) -> None:
        if self._shared:
            self._shared_conn = conn
        else:
            self._local.conn = conn

    def _usable(self) -> psycopg.Connection:
        with self._guard():
            conn = self._current()
            if conn is None or conn.closed or conn.broken:
                conn = self._open()
                self._set(conn)
            return conn

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        conn = self._usable()
        try:
            yield conn
        except psycopg.OperationalError:
            # The connection may be unusable (server restart, network); start afresh next time.
            self._discard(conn)
            raise

    def _discard(self, conn: psycopg.Connection) -> None:
        with self._guard():
            # Another thread may already have replaced a shared connection: keep the new one.
            if self._current() is conn:
                self._set(None)
        conn.close()

    def reset(self) -> None:
        conn = self._current()
        if conn is not None:
            self._discard(conn)


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
