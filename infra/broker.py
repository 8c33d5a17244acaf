"""Amazon MQ for RabbitMQ: a single instance for dev, a three-node cluster for prod."""

from __future__ import annotations

import json

from aws_cdk import Fn, RemovalPolicy
from aws_cdk import aws_amazonmq as mq
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.config import StageConfig

AMQPS_PORT = 5671
VHOST = "/"


class Broker(Construct):
    """The broker, its credentials (Secrets Manager, JSON ``{"username", "password"}``: the
    form the Amazon MQ event source mapping's BASIC_AUTH needs, which the functions read too)
    and its security group."""

    def __init__(self, scope: Construct, id: str, *, config: StageConfig, vpc: ec2.IVpc) -> None:
        super().__init__(scope, id)
        self.name = f"logsight-{config.stage}"
        self.secret = secretsmanager.Secret(
            self,
            "Credentials",
            description="LogSight Amazon MQ user (username, password)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": "logsight"}),
                generate_string_key="password",
                # Amazon MQ refuses commas, colons, equals signs and some punctuation.
                exclude_punctuation=True,
                password_length=32,
            ),
            removal_policy=RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY,
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Amazon MQ broker and the event source mapping pollers",
            allow_all_outbound=False,
        )
        # The event source mappings' pollers run in ENIs that Lambda puts in the broker's
        # subnets with the broker's security groups. AWS's Lambda guide for Amazon MQ asks of
        # those groups: in, the broker port from themselves; out, the broker port to
        # themselves and 443 to anywhere (Lambda, STS and Secrets Manager, through the NAT
        # gateway or interface endpoints).
        self.security_group.connections.allow_internally(
            ec2.Port.tcp(AMQPS_PORT), "event source mapping pollers to the broker"
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "event source mapping pollers to Lambda, STS and Secrets Manager",
        )
        private = vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS).subnet_ids
        single = config.broker_deployment_mode == "SINGLE_INSTANCE"
        self.subnet_ids = private[:1] if single else private
        self.broker = mq.CfnBroker(
            self,
            "Broker",
            broker_name=self.name,
            engine_type="RABBITMQ",
            engine_version=config.broker_engine_version,
            host_instance_type=config.broker_instance_type,
            deployment_mode=config.broker_deployment_mode,
            publicly_accessible=False,
            auto_minor_version_upgrade=True,
            subnet_ids=self.subnet_ids,
            security_groups=[self.security_group.security_group_id],
            # Dynamic references: the password is resolved by CloudFormation, never templated.
            users=[
                mq.CfnBroker.UserProperty(
                    username=self.secret.secret_value_from_json("username").unsafe_unwrap(),
                    password=self.secret.secret_value_from_json("password").unsafe_unwrap(),
                )
            ],
            logs=mq.CfnBroker.LogListProperty(general=True),
            maintenance_window_start_time=mq.CfnBroker.MaintenanceWindowProperty(
                day_of_week="SUNDAY", time_of_day="03:00", time_zone="UTC"
            ),
            # RabbitMQ brokers are always encrypted at rest with an AWS-owned key.
            encryption_options=mq.CfnBroker.EncryptionOptionsProperty(use_aws_owned_key=True),
        )
        self.broker.apply_removal_policy(RemovalPolicy.DESTROY)
        # amqps://b-….mq.<region>.amazonaws.com:5671, credentials added from the secret.
        endpoint = Fn.select(0, self.broker.attr_amqp_endpoints)
        self.amqp_url = Fn.join("", [endpoint, "/%2F"])

    def admit(self, peer: ec2.ISecurityGroup) -> None:
        """AMQPS from ``peer`` (and, its egress being restricted, to the broker from it)."""
        self.security_group.connections.allow_from(
            peer, ec2.Port.tcp(AMQPS_PORT), "LogSight functions to the broker"
        )
