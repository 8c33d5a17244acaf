"""Network: a VPC whose private subnets hold the broker, the database and every function."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig

HTTPS = ec2.Port.tcp(443)


class Network(Construct):
    """Private subnets with NAT egress. Every function runs here: they all use the database,
    which is private (RDS) or reached through the NAT's fixed address (external), and those that
    publish reach the private broker. The NAT also carries AWS API calls (Secrets Manager, and
    Lambda/STS for the event source mapping's pollers) where no interface endpoint exists, and
    the scheduled function's webhooks."""

    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        zones = config.zones
        eips = config.eip_allocation_ids
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            # Explicit: an environment-agnostic stack gets two zones from Fn::GetAZs whatever
            # max_azs says; more than two need their names.
            availability_zones=zones or None,
            max_azs=None if zones else 2,
            nat_gateways=config.nat_gateways,
            nat_gateway_provider=ec2.NatProvider.gateway(eip_allocation_ids=eips or None),
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
        )
        flow_logs = logs.LogGroup(
            self,
            "FlowLogs",
            retention=logs.RetentionDays.ONE_MONTH,
            removal_policy=removal,
        )
        # Rejected traffic only: enough to debug a security group, a fraction of the cost.
        self.vpc.add_flow_log(
            "Rejected",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_logs),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        # Free, and keeps S3 traffic (asset downloads, CloudFormation's custom resource
        # responses) off the NAT gateway.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.interface_endpoints: list[ec2.InterfaceVpcEndpoint] = []
        if config.vpc_endpoints:
            # Their security group admits 443 from the VPC's CIDR (CDK's default), which
            # covers the functions and the event source mapping's pollers.
            for name, service in (
                ("SecretsManager", ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER),
                ("Sts", ec2.InterfaceVpcEndpointAwsService.STS),
            ):
                endpoint = self.vpc.add_interface_endpoint(
                    name,
                    service=service,
                    subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
                    private_dns_enabled=True,
                )
                self.interface_endpoints.append(endpoint)
        self.private_subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        # Every function: out to HTTPS (AWS APIs, identity providers' key sets); the broker
        # and the database add their own ports (Broker.admit, Database.admit).
        self.function_sg = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="LogSight functions: HTTPS out, the broker and the database",
            allow_all_outbound=False,
        )
        self.function_sg.add_egress_rule(
            ec2.Peer.any_ipv4(), HTTPS, "AWS APIs and HTTPS through the NAT or endpoints"
        )
        # The scheduled function's notifications go to user-given URLs, on any port.
        self.webhook_sg = ec2.SecurityGroup(
            self,
            "WebhookSecurityGroup",
            vpc=self.vpc,
            description="LogSight scheduled function: webhooks on any port",
            allow_all_outbound=True,
        )
