"""Stage settings, read from CDK context (``-c stage=prod``, ``-c key=value`` or cdk.json).

Two stages are defined; every value can be overridden with a context key of the same name
(camelCase on the command line, e.g. ``-c shards=4 -c brokerInstanceType=mq.m7g.large``).
Values that cannot deploy are refused here, at synth time, with the reason.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, fields, replace
from typing import Any

from constructs import Node

# Lambda keeps this many executions of the account's concurrency quota unreserved: a reservation
# that leaves fewer fails the deploy ("decreases account's UnreservedConcurrentExecution below
# its minimum value").
UNRESERVED_MINIMUM = 100
DATABASE_MODES = ("rds", "external")
ARCHITECTURES = ("arm64", "x86_64")


class ConfigError(ValueError):
    """A context value the stack cannot deploy with."""


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
    # 0: no reservation (the default; new accounts cannot reserve anything). A reservation also
    # caps ingest's environments, hence its broker and database connections.
    ingest_reserved_concurrency: int = 0
    # The account's Lambda concurrency quota (`aws lambda get-account-settings`), against which
    # a reservation is checked; AWS's default quota is 1,000, new accounts often get 10 or 50.
    lambda_concurrency_quota: int = 1000
    nat_gateways: int = 1
    # The stack is environment-agnostic, where CloudFormation's Fn::GetAZs gives CDK two
    # Availability Zones; more need their names (-c availabilityZones=eu-west-1a,...).
    availability_zones: str = ""
    # Interface endpoints cost ~$7/month per AZ each; dev reaches Secrets Manager through NAT.
    vpc_endpoints: bool = False
    # Existing Elastic IP allocations for the NAT gateways (comma-separated): a database that
    # allow-lists addresses can be told them before the first deploy.
    nat_eip_allocation_ids: str = ""
    retain_data: bool = False  # RETAIN (prod) or DESTROY (dev) for buckets, secrets, logs
    log_retention_days: int = 14
    # The database: "rds" (the stack creates Amazon RDS for PostgreSQL in the private subnets)
    # or "external" (a URL in a Secrets Manager secret you create; see docs/deploy.md).
    database: str = "rds"
    # A full version: RDS no longer creates instances from a major version alone, and retires
    # old minor versions (a new stack then needs a newer one); minors are upgraded in the
    # maintenance window.
    database_engine_version: str = "17.9"
    database_instance_type: str = "t4g.micro"
    database_multi_az: bool = False
    database_allocated_storage_gb: int = 20
    database_backup_days: int = 7
    database_secret_name: str = ""  # external only; default logsight/<stage>/database-url
    database_port: int = 5432  # external only: the port the functions may connect out to
    alarm_email: str = ""
    # Sender of alert e-mails through Amazon SES (a verified identity); the alerts function may
    # send only as this address when it is set.
    alerts_email_from: str = ""
    public_url: str = ""  # a custom domain in front of CloudFront; default its own domain
    clerk_issuer_url: str = ""
    oidc_issuer_url: str = ""
    oidc_audience: str = ""
    builtin_auth: bool = True
    api_throttle_rate: int = 1000
    api_throttle_burst: int = 2000
    # LocalStack: no VPC, no Amazon MQ and no RDS (RabbitMQ and TimescaleDB from docker compose
    # instead), function URLs, no CloudFront and no event source mapping. The HTTP API only
    # with a paid LocalStack plan (-c localstackPro=true).
    localstack: bool = False
    localstack_pro: bool = False
    localstack_amqp_url: str = "amqp://guest:guest@rabbitmq:5672/%2F"
    # The functions' architecture; LocalStack runs them on the Docker host's (x86_64 there
    # unless the host is an arm64 machine), AWS on Graviton.
    lambda_architecture: str = "arm64"

    @property
    def database_secret(self) -> str:
        return self.database_secret_name or f"logsight/{self.stage}/database-url"

    @property
    def external_database(self) -> bool:
        return self.database == "external" or self.localstack

    @property
    def zones(self) -> list[str]:
        return [z.strip() for z in self.availability_zones.split(",") if z.strip()]

    @property
    def eip_allocation_ids(self) -> list[str]:
        return [a.strip() for a in self.nat_eip_allocation_ids.split(",") if a.strip()]

    @property
    def stack_name(self) -> str:
        return f"LogSight-{self.stage}"


STAGES: dict[str, StageConfig] = {
    "dev": StageConfig(
        stage="dev",
        broker_instance_type="mq.t3.micro",
        broker_deployment_mode="SINGLE_INSTANCE",
    ),
    "prod": StageConfig(
        stage="prod",
        broker_instance_type="mq.m5.large",
        broker_deployment_mode="CLUSTER_MULTI_AZ",
        shards=4,
        nat_gateways=2,
        vpc_endpoints=True,
        retain_data=True,
        log_retention_days=90,
        database_instance_type="m7g.large",
        database_multi_az=True,
        database_allocated_storage_gb=100,
        database_backup_days=14,
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


def host_architecture() -> str:
    """The architecture Lambda containers get on this machine's Docker (LocalStack)."""
    return "arm64" if platform.machine().lower() in ("arm64", "aarch64") else "x86_64"


def load_config(node: Node) -> StageConfig:
    stage = str(node.try_get_context("stage") or "dev")
    if stage not in STAGES:
        raise ConfigError(f"unknown stage {stage!r}; expected one of {', '.join(STAGES)}")
    config = STAGES[stage]
    overrides = {}
    for field in fields(config):
        if field.name == "stage":
            continue
        value = node.try_get_context(_camel(field.name))
        if value is not None:
            overrides[field.name] = _coerce(value, getattr(config, field.name))
    if overrides.get("localstack") and "lambda_architecture" not in overrides:
        overrides["lambda_architecture"] = host_architecture()
    config = replace(config, **overrides)
    validate(config)
    return config


def validate(config: StageConfig) -> None:
    """Refuse, with the reason, what AWS would refuse halfway through a deploy."""
    reserved = config.ingest_reserved_concurrency
    if reserved < 0:
        raise ConfigError("ingestReservedConcurrency must be 0 (no reservation) or more")
    if reserved:
        available = config.lambda_concurrency_quota - UNRESERVED_MINIMUM
        if reserved > available:
            raise ConfigError(
                f"ingestReservedConcurrency={reserved} cannot be reserved: Lambda keeps "
                f"{UNRESERVED_MINIMUM} of the account's concurrency unreserved, so an account "
                f"whose quota is {config.lambda_concurrency_quota} can reserve at most "
                f"{max(available, 0)}. Leave it unset (no reservation), or raise the quota "
                "(Service Quotas: Lambda 'Concurrent executions') and pass it with "
                "-c lambdaConcurrencyQuota=N (see `aws lambda get-account-settings`)."
            )
    if config.database not in DATABASE_MODES:
        raise ConfigError(
            f"database={config.database!r}; expected one of {', '.join(DATABASE_MODES)}"
        )
    if config.lambda_architecture not in ARCHITECTURES:
        raise ConfigError(
            f"lambdaArchitecture={config.lambda_architecture!r}; expected one of "
            f"{', '.join(ARCHITECTURES)}"
        )
    zones = config.zones
    if zones and len(zones) < 2:
        raise ConfigError("availabilityZones needs at least two zones (RDS subnet groups do)")
    if config.nat_gateways < 1 or config.nat_gateways > max(len(zones), 2):
        raise ConfigError("natGateways must be between 1 and the number of Availability Zones")
    eips = config.eip_allocation_ids
    if eips and len(eips) != config.nat_gateways:
        raise ConfigError(
            f"natEipAllocationIds names {len(eips)} addresses for {config.nat_gateways} NAT "
            "gateway(s); give one per gateway"
        )
    if not 1 <= config.database_port <= 65535:
        raise ConfigError("databasePort must be a TCP port")
