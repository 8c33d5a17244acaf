"""Scheduled function (EventBridge): storage maintenance, dead-letter re-drive, alert rules.

Two schedules invoke it: ``logsight-maintenance`` (hourly: partitions ahead, retention) and
``logsight-alerts`` (every minute: dead letters that ran out of deliveries during an outage are
sent back once the database answers, then every due alert rule is evaluated and its
notifications delivered: logsight.alerting).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsight.alerting.scheduled import ScheduledAlerts, scheduled_time
from logsight.config import get_settings
from logsight.privacy.deletion import run_pending_jobs
from logsight.queue.replay import Redriver
from logsight.storage.faults import time_left_of
from logsight.storage.maintenance import run_maintenance

logger = Logger(service="alerts")

MAINTENANCE_RULE_SUFFIX = "logsight-maintenance"
_redriver: Redriver | None = None
_alerts: ScheduledAlerts | None = None


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    global _redriver, _alerts  # noqa: PLW0603 - one per execution environment, by design
    scheduled = EventBridgeEvent(event)
    rule = scheduled.resources[0].rsplit("/", 1)[-1] if scheduled.resources else ""
    settings = get_settings()
    if rule.endswith(MAINTENANCE_RULE_SUFFIX):
        if not settings.database_url:
            raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
        statements = run_maintenance(
            settings.database_url,
            default_retention_days=settings.default_retention_days,
            ahead_days=settings.partitions_ahead_days,
        )
        logger.info("maintenance done", statements=statements)
        return {"job": "maintenance", "statements": statements}
    if _redriver is None:
        _redriver = Redriver(settings)
    redriven = _redriver.run(time_left_of(context))
    if _alerts is None:
        _alerts = ScheduledAlerts(settings)
    evaluated = _alerts.run(scheduled_time(event.get("time")))
    logger.info("alerts done", **evaluated)
    # Deleting users' data (privacy jobs) is background work that cannot wait long.
    privacy_jobs = run_pending_jobs(settings.database_url) if settings.database_url else None
    return {
        "job": "alerts",
        **evaluated,
        "redriven": redriven.replayed if redriven else None,
        "privacy_jobs": privacy_jobs,
    }
