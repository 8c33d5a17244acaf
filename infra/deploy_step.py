"""Migrations and the broker topology on every deploy, as a Lambda-backed custom resource."""

from __future__ import annotations

import hashlib

from aws_cdk import CustomResource, Duration
from aws_cdk import aws_lambda as lambda_
from constructs import Construct, IDependable

from infra.build import asset_paths


class DeployStep(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        function: lambda_.IFunction,
        architecture: str,
        shards: int,
        after: list[IDependable],
    ) -> None:
        super().__init__(scope, id)
        # A changed asset (new migrations, new topology code) changes this property, which
        # makes CloudFormation send an Update, i.e. run the step again.
        digest = hashlib.sha256(asset_paths("deploy", architecture)[1].read_bytes()).hexdigest()
        self.resource = CustomResource(
            self,
            "Resource",
            service_token=function.function_arn,
            resource_type="Custom::LogSightDeploy",
            properties={"CodeSha256": digest[:16], "Shards": str(shards)},
            service_timeout=Duration.minutes(10),
        )
        for dependency in after:
            self.resource.node.add_dependency(dependency)
