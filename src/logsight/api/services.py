"""What the API needs for its life in one execution environment, built once."""

from __future__ import annotations

from psycopg_pool import ConnectionPool

from logsight.auth.authenticator import Authenticator
from logsight.auth.builtin import BuiltinIssuer
from logsight.config import Settings


class ApiServices:
    def __init__(self, settings: Settings, authenticator: Authenticator | None = None) -> None:
        self.settings = settings
        # Built once per environment; it loads signing keys and key sets on first use.
        self.authenticator = authenticator or Authenticator.from_settings(settings)
        self._pool: ConnectionPool | None = None

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
            self._pool = ConnectionPool(
                self.settings.database_url,
                min_size=1,
                max_size=self.settings.api_pool_size,
                kwargs={"autocommit": True, "application_name": "logsight-api"},
                check=ConnectionPool.check_connection,
                open=True,
            )
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None
