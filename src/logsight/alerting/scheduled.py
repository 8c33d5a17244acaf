"""The every-minute alerting run as the scheduled function performs it: one connection, the
scheduled event's own time as "now" (so a retried invocation of the same event makes the same
claims, which are then already taken), and every due rule, digest and delivery."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from logsight.alerting.engine import AlertEngine
from logsight.config import Settings


def scheduled_time(value: str | None) -> datetime:
    """EventBridge's ``time`` (``2026-01-01T00:01:00Z``), never later than the clock."""
    clock = datetime.now(UTC)
    if not value:
        return clock
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return clock
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return min(moment, clock)


class ScheduledAlerts:
    """Kept for the life of an execution environment (the secret box is read once)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.engine = AlertEngine(settings)

    def run(self, now: datetime) -> dict[str, Any]:
        if not self.settings.database_url:
            raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
        with psycopg.connect(
            self.settings.database_url,
            autocommit=True,
            application_name="logsight-alerts",
            connect_timeout=self.settings.database_connect_timeout_seconds,
        ) as conn:
            return self.engine.run(conn, now).summary()
