"""Amazon MQ → processor: one event source mapping per shard queue, one for the dead letters.

Amazon MQ mappings run one execution environment per mapping, so throughput comes from big
batches and from the shard count (``LOGSIGHT_SHARDS``). The dead-letter mapping lets the
processor record messages past the delivery limit as dead letters (visible in the API).
"""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.broker import VHOST
from infra.config import StageConfig


def shard_queue(shard: int, prefix: str = "logsight.events") -> str:
    return f"{prefix}.{shard}"


DEAD_LETTER_QUEUE = "logsight.events.dead"


class Delivery(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        broker_arn: str,
        broker_secret: secretsmanager.ISecret,
        processor: lambda_.IFunction,
        processor_role: iam.IRole,
    ) -> None:
        super().__init__(scope, id)
        # What the mapping itself needs, through the function's role: read the broker, its
        # credentials, and manage the ENIs it places in the broker's subnets.
        self.policy = policy = iam.Policy(
            self,
            "MappingPolicy",
            statements=[
                iam.PolicyStatement(actions=["mq:DescribeBroker"], resources=[broker_arn]),
                iam.PolicyStatement(
                    actions=[
                        "ec2:CreateNetworkInterface",
                        "ec2:DeleteNetworkInterface",
                        "ec2:DescribeNetworkInterfaces",
                        "ec2:DescribeSecurityGroups",
                        "ec2:DescribeSubnets",
                        "ec2:DescribeVpcs",
                    ],
                    resources=["*"],
                ),
            ],
        )
        policy.attach_to_role(processor_role)
        broker_secret.grant_read(processor_role)
        queues = [shard_queue(n) for n in range(config.shards)] + [DEAD_LETTER_QUEUE]
        self.mappings: list[lambda_.CfnEventSourceMapping] = []
        for queue in queues:
            suffix = queue.rsplit(".", 1)[-1]
            mapping = lambda_.CfnEventSourceMapping(
                self,
                f"Queue{suffix.title()}",
                function_name=processor.function_name,
                event_source_arn=broker_arn,
                queues=[queue],
                batch_size=config.batch_size,
                # MaximumBatchingWindowInSeconds omitted: Amazon MQ's default is 0.5 s, the
                # local poller's; the property only takes whole seconds.
                source_access_configurations=[
                    lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty(
                        type="BASIC_AUTH", uri=broker_secret.secret_arn
                    ),
                    lambda_.CfnEventSourceMapping.SourceAccessConfigurationProperty(
                        type="VIRTUAL_HOST", uri=VHOST
                    ),
                ],
                enabled=True,
            )
            # The mapping validates its permissions when created.
            mapping.node.add_dependency(policy)
            mapping.node.add_dependency(processor_role)
            self.mappings.append(mapping)
