"""Stage settings, read from CDK context (``-c stage=prod``, ``-c key=value`` or cdk.json).

Two stages are defined; every value can be overridden with a context key of the same name
(camelCase on the command line, e.g. ``-c shards=4 -c brokerInstanceType=mq.m7g.large``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from constructs import Node


@dataclass(frozen=True, slots=True)
class StageConfig:
    stage: str
    # Amazon MQ for RabbitMQ. 3.13 is the newest engine on mq.t3/m5 (4.x needs mq.m7g).
    broker_instance_type: str
    broker_deployment_mode: str  # SINGLE_INSTANCE or CLUSTER_MULTI_AZ
    broker_engine_version: str = "3.13"
    shards: int = 2
    # Matches the local poller (LOGSIGHT_BATCH_SIZE). The window is left to Amazon MQ's default,
    # 0.5 s, the local one: CloudFormation only takes whole seconds.
    batch_size: int = 500
    # Below the broker's connection limit (500 on mq.t3.micro, 5,000 per node on m5/m7g large):
    # each ingest environment holds one connection, plus one per event source mapping.
    ingest_reserved_concurrency: int = 100
    nat_gateways: int = 1
    max_azs: int = 2
    # Interface endpoints cost ~$7/month per AZ each; dev reaches Secrets Manager through NAT.
    vpc_endpoints: bool = False
    retain_data: bool = False  # RETAIN (prod) or DESTROY (dev) for buckets, secrets, logs
    log_retention_days: int = 14
    database_secret_name: str = ""  # default logsight/<stage>/database-url
    alarm_email: str = ""
    public_url: str = ""  # a custom domain in front of CloudFront; default its own domain
    clerk_issuer_url: str = ""
    oidc_issuer_url: str = ""
    oidc_audience: str = ""
    builtin_auth: bool = True
    api_throttle_rate: int = 1000
    api_throttle_burst: int = 2000
    # LocalStack: no VPC and no Amazon MQ (RabbitMQ from docker compose instead), function URLs
    # besides the HTTP API, no CloudFront and no event source mapping (Pro-only services).
    localstack: bool = False
    localstack_amqp_url: str = "amqp://guest:guest@rabbitmq:5672/%2F"

    @property
    def database_secret(self) -> str:
        return self.database_secret_name or f"logsight/{self.stage}/database-url"

    @property
    def stack_name(self) -> str:
        return f"LogSight-{self.stage}"


STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(
        stage="dev",
        broker_instance_type="mq.t3.micro",
        broker_deployment_mode="SINGLE_INSTANCE",
        ingest_reserved_concurrency=50,
    ),
    "prod": StageConfig(
        stage="prod",
        broker_instance_type="mq.m5.large",
        broker_deployment_mode="CLUSTER_MULTI_AZ",
        shards=4,
        ingest_reserved_concurrency=400,
        nat_gateways=2,
        max_azs=3,
        vpc_endpoints=True,
        retain_data=True,
        log_retention_days=90,
    ),
}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _coerce(value: Any, like: Any) -> Any:
    if isinstance(like, bool):
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if isinstance(like, int):
        return int(value)
    return str(value)


def load_config(node: Node) -> StageConfig:
    stage = str(node.try_get_context("stage") or "dev")
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    config = STAGES[stage]
    overrides = {}
    for field in fields(config):
        if field.name == "stage":
            continue
        value = node.try_get_context(_camel(field.name))
        if value is not None:
            overrides[field.name] = _coerce(value, getattr(config, field.name))
    return replace(config, **overrides)
