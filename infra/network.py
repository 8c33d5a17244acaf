"""Network: a VPC whose private subnets hold the broker and the functions that talk to it."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.config import StageConfig


class Network(Construct):
    """Private subnets with NAT egress: ingest, the deploy step and the scheduled function
    (which re-drives dead letters) reach the broker inside the VPC and the external TimescaleDB
    outside it. Functions that never publish (api, processor: its event source mapping reaches
    the broker on its own) stay out of the VPC: no ENI set-up on cold start and no NAT
    traffic."""

    def __init__(self, scope: Construct, id: str, *, config: StageConfig) -> None:
        super().__init__(scope, id)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=config.max_azs,
            nat_gateways=config.nat_gateways,
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
        # Free, and keeps S3 traffic (asset downloads, the web bucket) off the NAT gateway.
        self.vpc.add_gateway_endpoint("S3", service=ec2.GatewayVpcEndpointAwsService.S3)
        self.interface_endpoints: list[ec2.InterfaceVpcEndpoint] = []
        if config.vpc_endpoints:
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
        # Functions inside the VPC share one group; the broker admits it on 5671.
        self.function_sg = ec2.SecurityGroup(
            self,
            "FunctionSecurityGroup",
            vpc=self.vpc,
            description="LogSight functions that reach the broker",
            allow_all_outbound=True,
        )
