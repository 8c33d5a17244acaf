"""EventBridge schedules for the alerts function, which dispatches on the rule's name
(``…logsight-alerts`` every minute, ``…logsight-maintenance`` hourly), as the local scheduler
does (logsight.local.scheduler)."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.config import StageConfig

SCHEDULES = {"logsight-alerts": Duration.minutes(1), "logsight-maintenance": Duration.hours(1)}


class Schedules(Construct):
    def __init__(
        self, scope: Construct, id: str, *, config: StageConfig, alerts: lambda_.IFunction
    ) -> None:
        super().__init__(scope, id)
        self.rules: dict[str, events.Rule] = {}
        for suffix, every in SCHEDULES.items():
            rule = events.Rule(
                self,
                suffix.title().replace("-", ""),
                rule_name=f"{config.stage}-{suffix}",
                schedule=events.Schedule.rate(every),
                description=f"LogSight {config.stage}: {suffix.removeprefix('logsight-')}",
            )
            # A missed minute is covered by the next run; retries would only pile up.
            rule.add_target(targets.LambdaFunction(alerts, retry_attempts=0))
            self.rules[suffix] = rule
