"""What the API needs for its life in one execution environment, built once."""

from __future__ import annotations

from dataclasses import dataclass, field

from psycopg_pool import ConnectionPool

from logsight.auth.authenticator import Authenticator
from logsight.config import Settings


@dataclass
class ApiServices:
    settings: Settings
    authenticator: Authenticator = field(default_factory=Authenticator)
    _pool: ConnectionPool | None = None

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
