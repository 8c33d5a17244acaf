"""Scheduled function (EventBridge): storage maintenance now; alert rules join it later.

Two schedules invoke it: ``logsight-maintenance`` (hourly: partitions ahead, retention) and
``logsight-alerts`` (every minute: alert rules, which arrive with the alerts feature).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsight.config import get_settings
from logsight.storage.maintenance import run_maintenance

logger = Logger(service="alerts")

MAINTENANCE_RULE_SUFFIX = "logsight-maintenance"


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    scheduled = EventBridgeEvent(event)
    rule = scheduled.resources[0].rsplit("/", 1)[-1] if scheduled.resources else ""
    if rule.endswith(MAINTENANCE_RULE_SUFFIX):
        settings = get_settings()
        if not settings.database_url:
            raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
        statements = run_maintenance(
            settings.database_url,
            default_retention_days=settings.default_retention_days,
            ahead_days=settings.partitions_ahead_days,
        )
        logger.info("maintenance done", statements=statements)
        return {"job": "maintenance", "statements": statements}
    return {"job": "alerts", "rules_evaluated": 0}
