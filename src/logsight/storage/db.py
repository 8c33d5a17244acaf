"""One long-lived database connection per execution environment, replaced when it breaks."""

from __future__ import annotations

import threading
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
