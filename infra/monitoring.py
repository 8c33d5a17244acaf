"""CloudWatch alarms (to an SNS topic encrypted with the stack's own KMS key) and one dashboard.

The key is customer-managed because CloudWatch must be allowed in the key policy to use the key
when it publishes to an encrypted topic; the AWS-managed SNS key (alias/aws/sns) has a policy
nobody can change, so alarms sent to a topic encrypted with it are never delivered.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from infra.config import StageConfig
from infra.delivery import DEAD_LETTER_QUEUE, shard_queue

# Sustained backlog worth a look: several minutes of a small install's peak traffic.
QUEUE_DEPTH_THRESHOLD = 50_000


def queue_metric(broker_name: str, queue: str, metric: str = "MessageCount") -> cw.Metric:
    return cw.Metric(
        namespace="AWS/AmazonMQ",
        metric_name=metric,
        dimensions_map={"Broker": broker_name, "VirtualHost": "/", "Queue": queue},
        statistic="Maximum",
        period=Duration.minutes(1),
    )


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        functions: dict[str, lambda_.Function],
        broker_name: str | None,
        database: rds.DatabaseInstance | None = None,
        database_max_connections: int | None = None,
    ) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "AlarmsKey",
            description=f"LogSight {config.stage}: encrypts the alarm topic",
            enable_key_rotation=True,
            # Messages are delivered within minutes; nothing encrypted outlives the stack.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        # The statement SNS's guide gives for AWS services publishing to an encrypted topic.
        # No aws:SourceArn condition: a condition key the request does not carry would make every
        # notification fail silently, and this key encrypts nothing but this topic.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsPublishToTheTopic",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
            )
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name=f"LogSight {config.stage} alarms",
            master_key=self.key,
            enforce_ssl=True,
        )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            )
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self.alarms: list[cw.Alarm] = []

        def alarm(name: str, metric: cw.IMetric, threshold: float, periods: int = 1) -> None:
            created = cw.Alarm(
                self,
                name,
                alarm_name=f"logsight-{config.stage}-{name}",
                metric=metric,
                threshold=threshold,
                evaluation_periods=periods,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            )
            created.add_alarm_action(action)
            self.alarms.append(created)

        five = Duration.minutes(5)
        for name, function in functions.items():
            alarm(f"{name}-errors", function.metric_errors(period=five, statistic="Sum"), 0)
            alarm(f"{name}-throttles", function.metric_throttles(period=five, statistic="Sum"), 0)
        # Records the processor gave up on (its own metric) and messages past the delivery
        # limit (the broker's dead-letter queue).
        alarm(
            "dead-letters",
            cw.Metric(
                namespace="LogSight",
                metric_name="DeadLetters",
                dimensions_map={"service": "processor"},
                statistic="Sum",
                period=five,
            ),
            0,
        )
        if broker_name:
            alarm("dead-letter-queue", queue_metric(broker_name, DEAD_LETTER_QUEUE), 0)
            for shard in range(config.shards):
                queue = shard_queue(shard)
                alarm(
                    f"queue-depth-{shard}",
                    queue_metric(broker_name, queue),
                    QUEUE_DEPTH_THRESHOLD,
                    periods=10,
                )

        if database is not None and database_max_connections:
            # Lambda environments each hold their connection while frozen: this is the first
            # sign that concurrency outgrows the instance (docs/deploy.md, connection math).
            alarm(
                "database-connections",
                database.metric_database_connections(period=five, statistic="Maximum"),
                int(database_max_connections * 0.8),
            )

        self.dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=f"LogSight-{config.stage}")
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Events",
                left=[
                    cw.Metric(
                        namespace="LogSight",
                        metric_name=m,
                        dimensions_map={"service": s},
                        statistic="Sum",
                        period=Duration.minutes(1),
                    )
                    for s, m in (
                        ("ingest", "EventsAccepted"),
                        ("ingest", "EventsRejected"),
                        ("processor", "EventsInserted"),
                        ("processor", "DeadLetters"),
                    )
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Errors",
                left=[f.metric_errors(period=Duration.minutes(1)) for f in functions.values()],
                width=12,
            ),
            cw.GraphWidget(
                title="Duration p95",
                left=[
                    f.metric_duration(period=Duration.minutes(1), statistic="p95")
                    for f in functions.values()
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Concurrency and throttles",
                left=[
                    f.metric("ConcurrentExecutions", statistic="Maximum")
                    for f in functions.values()
                ],
                right=[f.metric_throttles() for f in functions.values()],
                width=12,
            ),
        )
        if broker_name:
            queues = [shard_queue(n) for n in range(config.shards)] + [DEAD_LETTER_QUEUE]
            self.dashboard.add_widgets(
                cw.GraphWidget(
                    title="Queue depth",
                    left=[queue_metric(broker_name, q) for q in queues],
                    width=24,
                )
            )
