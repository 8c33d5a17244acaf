"""What the API needs for its life in one execution environment, built once."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from logsight.auth.authenticator import Authenticator
from logsight.auth.builtin import BuiltinIssuer
from logsight.config import Settings
from logsight.queue.depth import DepthCache


class ApiServices:
    def __init__(self, settings: Settings, authenticator: Authenticator | None = None) -> None:
        self.settings = settings
        # Built once per environment; it loads signing keys and key sets on first use.
        self.authenticator = authenticator or Authenticator.from_settings(settings)
        self._pool: ConnectionPool | None = None
        # Read from the broker on demand (ingest health), never at import.
        self.queue_depths = DepthCache(settings)

    @property
    def builtin(self) -> BuiltinIssuer | None:
        """The built-in issuer, when LOGSIGHT_BUILTIN_AUTH is on."""
        return self.authenticator.builtin

    @property
    def pool(self) -> ConnectionPool:
        # Opened on first use: importing the app (Lambda init) must not need the database.
        if self._pool is None:
            if not self.settings.database_url:
                raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
            # A database that is down must cost a request seconds, not the function's whole
            # timeout: the wait for a connection and each connection attempt are bounded, and
            # what exceeds them is answered 503 (logsight.api.errors). Background reconnection
            # gives up as soon, too: its back-off doubles for as long as it lasts, so a long
            # outage would otherwise keep the API answering 503 long after the database is
            # back; instead the next request starts a fresh attempt.
            self._pool = ConnectionPool(
                self.settings.database_url,
                min_size=1,
                max_size=self.settings.api_pool_size,
                timeout=self.settings.api_pool_timeout_seconds,
                reconnect_timeout=self.settings.api_pool_timeout_seconds,
                kwargs={
                    "autocommit": True,
                    "application_name": "logsight-api",
                    "connect_timeout": self.settings.database_connect_timeout_seconds,
                },
                check=ConnectionPool.check_connection,
                open=True,
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
