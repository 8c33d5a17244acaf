"""The database the functions use: Amazon RDS for PostgreSQL created here (the default), or an
external TimescaleDB/PostgreSQL whose URL the operator keeps in Secrets Manager.

RDS has no TimescaleDB extension, so LogSight's plain-PostgreSQL layout (daily partitions) runs
there. Either way the functions get ``LOGSIGHT_DATABASE_URL_SECRET_ARN``: the RDS secret is
JSON (host, port, username, password, dbname), which ``logsight.aws_secrets`` turns into a URL
with ``sslmode=require``; an external secret holds the URL itself.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig

DATABASE_NAME = "logsight"
DATABASE_USER = "logsight"
POSTGRES_PORT = 5432
# RDS for PostgreSQL's default max_connections is LEAST(DBInstanceClassMemory / 9531392, 5000);
# DBInstanceClassMemory is the class's memory less what RDS reserves, so these (the class's
# memory in GiB) give an upper bound.
INSTANCE_MEMORY_GIB = {
    "t4g.micro": 1,
    "t4g.small": 2,
    "t4g.medium": 4,
    "t4g.large": 8,
    "m7g.large": 8,
    "m7g.xlarge": 16,
    "r7g.large": 16,
}


def max_connections(instance_type: str) -> int | None:
    """RDS's default max_connections for an instance class (an upper bound), if known."""
    gib = INSTANCE_MEMORY_GIB.get(instance_type.removeprefix("db."))
    return None if gib is None else min(gib * 1024**3 // 9531392, 5000)


class Database(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: StageConfig,
        vpc: ec2.IVpc | None,
        subnets: ec2.SubnetSelection | None,
    ) -> None:
        super().__init__(scope, id)
        self.instance: rds.DatabaseInstance | None = None
        self.security_group: ec2.SecurityGroup | None = None
        self.port = config.database_port
        if config.external_database or vpc is None:
            self.secret: secretsmanager.ISecret = secretsmanager.Secret.from_secret_name_v2(
                self, "Url", config.database_secret
            )
            return

        retain = config.retain_data
        self.port = POSTGRES_PORT
        # In: PostgreSQL from the functions (Database.admit). Out: nothing.
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="LogSight database: PostgreSQL from LogSight functions",
            allow_all_outbound=False,
        )
        full = config.database_engine_version
        engine = rds.DatabaseInstanceEngine.postgres(
            version=rds.PostgresEngineVersion.of(full, full.split(".", 1)[0])
        )
        self.instance = rds.DatabaseInstance(
            self,
            "Instance",
            engine=engine,
            instance_type=ec2.InstanceType(config.database_instance_type),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            publicly_accessible=False,
            port=POSTGRES_PORT,
            database_name=DATABASE_NAME,
            # Generated into Secrets Manager as JSON with host, port, username, password, dbname.
            credentials=rds.Credentials.from_generated_secret(DATABASE_USER),
            storage_encrypted=True,
            storage_type=rds.StorageType.GP3,
            allocated_storage=config.database_allocated_storage_gb,
            max_allocated_storage=config.database_allocated_storage_gb * 5,
            multi_az=config.database_multi_az,
            backup_retention=Duration.days(config.database_backup_days),
            delete_automated_backups=not retain,
            deletion_protection=retain,
            # prod: a final snapshot when the instance is deleted (stack deletion included).
            removal_policy=RemovalPolicy.SNAPSHOT if retain else RemovalPolicy.DESTROY,
            copy_tags_to_snapshot=True,
            auto_minor_version_upgrade=True,
            ca_certificate=rds.CaCertificate.RDS_CA_RSA2048_G1,
            # TLS only (RDS's default from PostgreSQL 15 on; stated so it stays so).
            parameters={"rds.force_ssl": "1"},
            cloudwatch_logs_exports=["postgresql"],
            preferred_maintenance_window="sun:04:00-sun:05:00",
            preferred_backup_window="02:00-03:00",
        )
        secret = self.instance.secret  # the target attachment: the address added to the JSON
        assert secret is not None  # generated credentials always make one
        # The password must outlive a deleted prod instance: its final snapshot needs it.
        generated = self.instance.node.find_child("Secret")
        assert isinstance(generated, rds.DatabaseSecret)
        generated.apply_removal_policy(RemovalPolicy.RETAIN if retain else RemovalPolicy.DESTROY)
        self.secret = secret

    def admit(self, peer: ec2.SecurityGroup) -> None:
        """PostgreSQL from ``peer``: RDS's group admits it and ``peer`` may connect out to it;
        an external database is reached at its port wherever it is (peering, PrivateLink, or
        its public TLS endpoint through the NAT gateway)."""
        if self.instance is not None:
            self.instance.connections.allow_default_port_from(peer, "LogSight functions")
        else:
            peer.add_egress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(self.port), "the external database"
            )
