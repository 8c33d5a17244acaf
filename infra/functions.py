"""The four application functions and the deploy step: assets, roles, logs, settings."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.build import FUNCTIONS, asset_paths
from infra.config import StageConfig
from logsight.function_timeouts import TIMEOUT_SECONDS

RUNTIME = lambda_.Runtime.PYTHON_3_12
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
# One request per environment at a time: the api's pool needs one connection; a second covers
# a connection being replaced. Keeps each environment's share of max_connections small.
API_POOL_SIZE_ON_LAMBDA = 2


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    name: str
    memory_mb: int
    timeout_seconds: int
    description: str


def _spec(name: str, memory_mb: int, description: str) -> FunctionSpec:
    # The local runtime runs the same handlers with the same timeouts.
    return FunctionSpec(name, memory_mb, TIMEOUT_SECONDS[name], description)


# Every one of them uses the database, so every one runs in the VPC (network.py).
SPECS = {
    "ingest": _spec("ingest", 512, "HTTP → validated events → RabbitMQ"),
    "processor": _spec("processor", 1024, "Amazon MQ batches → PostgreSQL"),
    "api": _spec("api", 1024, "FastAPI: projects, keys, events, auth"),
    "alerts": _spec("alerts", 512, "Scheduled: maintenance, dead-letter re-drive, alert rules"),
    "deploy": _spec("deploy", 512, "Deploy step: migrations and topology"),
}


class Functions(Construct):
    """One role per function, holding only what that function does; log groups created here
    (so their retention and removal are ours and the role can be scoped to them), with names
    CloudFormation generates: a prod log group is retained when a failed first deploy rolls
    back, and a fixed name would make the next deploy fail with "already exists"."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        environment: dict[str, str],
        vpc: ec2.IVpc | None,
        subnets: ec2.SubnetSelection | None,
        security_group: ec2.ISecurityGroup | None,
        webhook_security_group: ec2.ISecurityGroup | None = None,
    ) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        self.log_groups: dict[str, logs.LogGroup] = {}
        for name, spec in SPECS.items():
            log_group = logs.LogGroup(
                self,
                f"{name.title()}Logs",
                retention=retention_days(config.log_retention_days),
                removal_policy=removal,
            )
            role = iam.Role(
                self,
                f"{name.title()}Role",
                assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
                description=f"LogSight {name} function",
            )
            role.add_to_policy(
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    resources=[log_group.log_group_arn],
                )
            )
            in_vpc = vpc is not None
            if in_vpc:
                # What AWSLambdaVPCAccessExecutionRole grants, minus its logs:* on every group.
                # EC2 has no resource-level permissions for these Describe calls, and the ENI
                # ids do not exist before Lambda creates them.
                role.add_to_policy(
                    iam.PolicyStatement(
                        actions=[
                            "ec2:CreateNetworkInterface",
                            "ec2:DescribeNetworkInterfaces",
                            "ec2:DescribeSubnets",
                            "ec2:DeleteNetworkInterface",
                            "ec2:AssignPrivateIpAddresses",
                            "ec2:UnassignPrivateIpAddresses",
                        ],
                        resources=["*"],
                    )
                )
            groups = [security_group] if security_group else []
            if name == "alerts" and webhook_security_group is not None:
                groups.append(webhook_security_group)
            fn_env = {
                **environment,
                "POWERTOOLS_SERVICE_NAME": name,
                "POWERTOOLS_METRICS_NAMESPACE": "LogSight",
                "POWERTOOLS_LOG_LEVEL": "INFO",
            }
            if name == "api":
                fn_env["LOGSIGHT_API_POOL_SIZE"] = str(API_POOL_SIZE_ON_LAMBDA)
            zip_path = asset_paths(name, config.lambda_architecture)[1]
            function = lambda_.Function(
                self,
                name.title(),
                function_name=f"logsight-{config.stage}-{name}",
                description=spec.description,
                runtime=RUNTIME,
                architecture=ARCHITECTURES[config.lambda_architecture],
                handler=FUNCTIONS[name].handler,
                code=lambda_.Code.from_asset(str(zip_path)),
                memory_size=spec.memory_mb,
                timeout=Duration.seconds(spec.timeout_seconds),
                role=role,
                log_group=log_group,
                environment=fn_env,
                # Only when asked for (validated in infra.config): Lambda keeps 100 of the
                # account's quota unreserved, which new accounts cannot spare.
                reserved_concurrent_executions=(
                    config.ingest_reserved_concurrency or None if name == "ingest" else None
                ),
                vpc=vpc,
                vpc_subnets=subnets if in_vpc else None,
                security_groups=groups or None,
                # Scheduled and custom-resource invocations are not to be retried blindly.
                retry_attempts=0 if name in ("alerts", "deploy") else None,
            )
            self.functions[name] = function
            self.roles[name] = role
            self.log_groups[name] = log_group


_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
}


def retention_days(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"logRetentionDays must be one of {sorted(_RETENTION)}")
    return _RETENTION[days]
