"""The LogSight stack: the capabilities composed, and the cdk-nag suppressions, each justified."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnOutput,
    RemovalPolicy,
    SecretValue,
    Stack,
    Validations,
)
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct, IConstruct, IDependable

from infra.broker import Broker
from infra.config import StageConfig
from infra.database import Database, max_connections
from infra.delivery import Delivery
from infra.deploy_step import DeployStep
from infra.functions import Functions
from infra.http_api import HttpApi
from infra.monitoring import Monitoring
from infra.network import Network
from infra.schedules import Schedules
from infra.web_hosting import WebHosting


class LogSightStack(Stack):
    def __init__(self, scope: Construct, id: str, *, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, description=f"LogSight ({config.stage})", **kwargs)
        self.config = config
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY

        def empty_secret(id: str, description: str) -> secretsmanager.Secret:
            # Filled later by the functions or the operator; "{}" is not a secret.
            return secretsmanager.Secret(
                self,
                id,
                description=description,
                secret_string_value=SecretValue.unsafe_plain_text("{}"),
                removal_policy=removal,
            )

        # The api keeps its key ring here and starts from an empty one.
        signing_keys = empty_secret(
            "SigningKeys", "LogSight built-in issuer's JWT signing keys (managed by the api)"
        )
        # The deploy step writes the first administrator's generated password here (built-in
        # accounts): the database is private, so it cannot be created from outside.
        first_admin = empty_secret(
            "FirstAdmin", "LogSight: the first administrator's e-mail and generated password"
        )
        # Its generated `key` encrypts alert channels' secrets in the database (the api seals
        # them, the scheduled function opens them): logsight.alerting.secret_box.
        notifications = secretsmanager.Secret(
            self,
            "Notifications",
            description="LogSight: the key that encrypts alert channel secrets",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template="{}",  # noqa: S106 - the JSON the key goes into
                generate_string_key="key",
                password_length=64,
                exclude_punctuation=True,
            ),
            removal_policy=removal,
        )

        network = None if config.localstack else Network(self, "Network", config=config)
        broker = None if network is None else Broker(self, "Broker", config=config, vpc=network.vpc)
        # Amazon RDS in the private subnets by default; -c database=external (and LocalStack)
        # reads a URL from a secret the operator created.
        database = Database(
            self,
            "Database",
            config=config,
            vpc=network.vpc if network else None,
            subnets=network.private_subnets if network else None,
        )

        # Settings every function reads; the broker's and auth's go only where they are used
        # (get_settings resolves every *_SECRET_ARN it is given, which needs read access).
        environment = {
            "LOGSIGHT_DATABASE_URL_SECRET_ARN": database.secret.secret_arn,
            "LOGSIGHT_SHARDS": str(config.shards),
        }
        broker_environment = (
            {
                "LOGSIGHT_AMQP_URL": broker.amqp_url,
                "LOGSIGHT_AMQP_SECRET_ARN": broker.secret.secret_arn,
            }
            if broker is not None
            else {"LOGSIGHT_AMQP_URL": config.localstack_amqp_url}
        )
        auth_environment = {"LOGSIGHT_BUILTIN_AUTH": str(config.builtin_auth).lower()}
        for key, value in (
            ("LOGSIGHT_CLERK_ISSUER_URL", config.clerk_issuer_url),
            ("LOGSIGHT_OIDC_ISSUER_URL", config.oidc_issuer_url),
            ("LOGSIGHT_OIDC_AUDIENCE", config.oidc_audience),
        ):
            if value:
                auth_environment[key] = value

        functions = Functions(
            self,
            "Functions",
            config=config,
            environment=environment,
            vpc=network.vpc if network else None,
            subnets=network.private_subnets if network else None,
            security_group=network.function_sg if network else None,
            webhook_security_group=network.webhook_sg if network else None,
        )
        fns, roles = functions.functions, functions.roles
        if network is not None:
            database.admit(network.function_sg)
            if broker is not None:
                broker.admit(network.function_sg)

        # The scheduled function publishes too: it re-drives dead letters after an outage. The
        # api reads the queues' depth for ingest health (a passive declare, nothing more).
        for name in ("ingest", "deploy", "alerts", "api"):
            for key, value in broker_environment.items():
                fns[name].add_environment(key, value)
        for key, value in auth_environment.items():
            fns["api"].add_environment(key, value)
        fns["deploy"].add_environment(
            "LOGSIGHT_BUILTIN_AUTH", auth_environment["LOGSIGHT_BUILTIN_AUTH"]
        )
        fns["deploy"].add_environment("LOGSIGHT_FIRST_ADMIN_SECRET_ARN", first_admin.secret_arn)
        first_admin.grant_write(roles["deploy"])

        # Least privilege, per function.
        for name in fns:
            database.secret.grant_read(roles[name])
        if broker is not None:
            for name in ("ingest", "deploy", "alerts", "api"):
                broker.secret.grant_read(roles[name])
        signing_keys.grant_read(roles["api"])
        signing_keys.grant_write(roles["api"])
        fns["api"].add_environment("LOGSIGHT_SIGNING_KEY_SECRET_ARN", signing_keys.secret_arn)
        for name in ("api", "alerts"):
            notifications.grant_read(roles[name])
            fns[name].add_environment("LOGSIGHT_NOTIFICATIONS_SECRET_ARN", notifications.secret_arn)
        # Alert e-mails go through Amazon SES (SMTP is the one-machine transport).
        fns["alerts"].add_environment("LOGSIGHT_ALERTS_EMAIL_TRANSPORT", "ses")
        ses_send = iam.PolicyStatement(
            actions=["ses:SendEmail", "ses:SendRawEmail"],
            resources=[
                Stack.of(self).format_arn(
                    service="ses",
                    resource="identity",
                    resource_name="*",
                    arn_format=ArnFormat.SLASH_RESOURCE_NAME,
                )
            ],
        )
        if config.alerts_email_from:
            fns["alerts"].add_environment("LOGSIGHT_ALERTS_EMAIL_FROM", config.alerts_email_from)
            ses_send.add_condition("StringEquals", {"ses:FromAddress": config.alerts_email_from})
        roles["alerts"].add_to_policy(ses_send)

        # LocalStack's free plan has no HTTP API (v2): function URLs stand in there.
        http = None
        if not config.localstack or config.localstack_pro:
            http = HttpApi(self, "Http", config=config, ingest=fns["ingest"], api=fns["api"])
        self.http_api = http
        function_urls: dict[str, str] = {}
        if config.localstack:
            for name in ("ingest", "api"):
                url = fns[name].add_function_url(auth_type=lambda_.FunctionUrlAuthType.NONE)
                function_urls[name] = url.url
                CfnOutput(self, f"{name.title()}FunctionUrl", value=url.url)

        web = None
        if http is not None and not config.localstack:
            web = WebHosting(self, "Web", config=config, api_endpoint=http.endpoint)
        if web is not None:
            # The api believes CloudFront-Viewer-Address only with CloudFront's secret header.
            web.origin_secret.grant_read(roles["api"])
            fns["api"].add_environment(
                "LOGSIGHT_CLOUDFRONT_SECRET_ARN", web.origin_secret.secret_arn
            )
        public_url = config.public_url or (
            web.url if web else http.endpoint if http else function_urls["ingest"]
        )
        # DSNs and snippets point at the single public origin (the api builds them; ingest's
        # own function URL cannot be given to ingest itself: a circular reference).
        for name in ("ingest", "api", "alerts"):
            if name != "ingest" or public_url != function_urls.get("ingest"):
                fns[name].add_environment("LOGSIGHT_PUBLIC_URL", public_url)

        # The step connects to both: they must exist, and so must every security group rule
        # on the way (the constructs hold them) and the route out through the NAT.
        deploy_after: list[IDependable] = [database]
        if broker is not None:
            deploy_after.append(broker)
        if network is not None:
            deploy_after += [network, network.vpc.internet_connectivity_established]
        deploy = DeployStep(
            self,
            "DeployStep",
            function=fns["deploy"],
            architecture=config.lambda_architecture,
            shards=config.shards,
            after=deploy_after,
        )

        delivery = None
        if broker is not None:
            delivery = Delivery(
                self,
                "Delivery",
                config=config,
                broker_arn=broker.broker.attr_arn,
                broker_secret=broker.secret,
                processor=fns["processor"],
                processor_role=roles["processor"],
            )
            # The queues exist only once the deploy step has declared them.
            for mapping in delivery.mappings:
                mapping.node.add_dependency(deploy.resource)

        Schedules(self, "Schedules", config=config, alerts=fns["alerts"])
        Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=dict(fns),
            broker_name=broker.name if broker else None,
            database=database.instance,
            database_max_connections=max_connections(config.database_instance_type),
        )

        CfnOutput(self, "PublicUrl", value=public_url, description="Snippet, DSNs, dashboard")
        CfnOutput(
            self,
            "FirstAdminSecretArn",
            value=first_admin.secret_arn,
            description="The first administrator's e-mail and password (built-in accounts)",
        )
        if http is not None:
            CfnOutput(self, "HttpApiUrl", value=http.endpoint)
        CfnOutput(
            self,
            "DatabaseSecretArn",
            value=database.secret.secret_arn,
            description="The database's credentials (RDS) or URL (external)",
        )
        if database.instance is not None:
            CfnOutput(
                self, "DatabaseEndpoint", value=database.instance.db_instance_endpoint_address
            )
        # Generated names (a retained group of a rolled-back deploy must not block the next).
        for name in ("deploy", "ingest", "processor", "api", "alerts"):
            CfnOutput(
                self,
                f"{name.title()}LogGroup",
                value=functions.log_groups[name].log_group_name,
            )
        if broker is not None:
            CfnOutput(self, "BrokerName", value=broker.name)

        if self.node.try_get_context("nagAcknowledge") != "off":
            self._acknowledge(
                secrets=[
                    signing_keys,
                    first_admin,
                    notifications,
                    *([broker.secret] if broker else []),
                    *([web.origin_secret] if web else []),
                ],
                functions=functions,
                delivery_policy=delivery.policy if delivery is not None else None,
                http=http,
                web=web,
                database=database,
                endpoints=network.interface_endpoints if network else [],
            )

    def _acknowledge(
        self,
        *,
        secrets: list[secretsmanager.Secret],
        functions: Functions,
        delivery_policy: iam.Policy | None,
        http: HttpApi | None,
        web: WebHosting | None,
        database: Database,
        endpoints: list[ec2.InterfaceVpcEndpoint],
    ) -> None:
        """cdk-nag (AwsSolutions) findings accepted on purpose, each on its construct, each with
        its reason. Anything else fails the synth."""

        def ack(construct: IConstruct, rule: str, reason: str) -> None:
            Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))

        for secret in secrets:
            ack(
                secret,
                "AwsSolutions-SMG4",
                "No Secrets Manager rotation: the broker password is the broker user's (rotating "
                "it needs a broker update and a restart of the mappings); the signing key ring "
                "is rotated by the api itself (LOGSIGHT_SIGNING_KEY_ROTATION_DAYS); the first "
                "administrator's password is changed by signing in; alert "
                "channels are rotated by their owners; the CloudFront origin secret is "
                "resolved into the distribution at deploy time, so it changes with a deploy "
                "(docs/deploy.md).",
            )
        for endpoint in endpoints:
            ack(
                endpoint,
                "AwsSolutions-EC23",
                "The rule cannot read the intrinsic: the endpoint admits 443 from the VPC's own "
                "CIDR (CDK's default for interface endpoints), not from 0.0.0.0/0.",
            )
        eni_reason = (
            "EC2 ENI actions for a function in the VPC / an Amazon MQ event source mapping: "
            "EC2 supports no resource-level permissions for Describe* and the ENIs do not "
            "exist before Lambda creates them. Every other statement names its resource."
        )
        for name, function in functions.functions.items():
            if function.is_bound_to_vpc:
                ack(functions.roles[name], "AwsSolutions-IAM5[Resource::*]", eni_reason)
        ack(
            functions.roles["alerts"],
            "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ses:<AWS::Region>:"
            "<AWS::AccountId>:identity/*]",
            "SES authorizes a send against the sender's identity and, in the SES sandbox, "
            "each recipient's: recipients are alert channels' addresses, chosen at run time. "
            "The sender is pinned with ses:FromAddress when alertsEmailFrom is set.",
        )
        if delivery_policy is not None:
            ack(delivery_policy, "AwsSolutions-IAM5[Resource::*]", eni_reason)
        for function in functions.functions.values():
            ack(
                function,
                "AwsSolutions-L1",
                "Python 3.12 on purpose: the wheels in the assets are built for cp312 and the "
                "local runtime and CI run 3.12; moving is a deliberate upgrade.",
            )
        if http is not None:
            ack(
                http.api,
                "AwsSolutions-APIG4",
                "Authorization happens in the functions: ingest checks the project's ingest key "
                "(or Sentry key), the api verifies JWTs and API tokens; the routes are public by "
                "design.",
            )
        if database.instance is not None:
            self._acknowledge_database(database.instance, ack)
        if web is None:
            return
        ack(
            web.bucket,
            "AwsSolutions-S1",
            "Static files only, read solely by CloudFront; the HTTP API access log records the "
            "dynamic traffic.",
        )
        distribution_reasons = {
            "AwsSolutions-CFR1": "Clients send from anywhere; no geographic restriction.",
            "AwsSolutions-CFR2": "No WAF by default (a web ACL costs ~$6/month plus requests); "
            "ingest limits and API throttling apply. docs/deploy.md shows how to add one.",
            "AwsSolutions-CFR3": "The HTTP API access log covers dynamic requests; no separate "
            "CloudFront log bucket for a placeholder page and static files.",
            "AwsSolutions-CFR4": "The default *.cloudfront.net certificate cannot enforce TLS "
            "1.2; minimum_protocol_version applies once a custom domain is configured.",
        }
        for rule, reason in distribution_reasons.items():
            ack(web.distribution, rule, reason)
        # CDK's BucketDeployment handler (a stack-level singleton): its runtime, managed policy
        # and wildcard grants are CDK's, scoped to the CDK asset bucket and the site bucket.
        for child in self.node.children:
            if child.node.id.startswith("Custom::CDKBucketDeployment"):
                ack(child, "AwsSolutions-L1", "CDK's BucketDeployment handler picks its runtime.")
                ack(
                    child,
                    "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/"
                    "service-role/AWSLambdaBasicExecutionRole]",
                    "CDK's BucketDeployment handler role; only logs.",
                )
                for finding in (
                    "Action::s3:GetObject*",
                    "Action::s3:GetBucket*",
                    "Action::s3:List*",
                    "Action::s3:DeleteObject*",
                    "Action::s3:Abort*",
                    "Resource::*",  # cloudfront:CreateInvalidation/GetInvalidation, CDK's grant
                    "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-"
                    "<AWS::AccountId>-<AWS::Region>/*",
                    f"Resource::<{self.get_logical_id(web.bucket.node.default_child)}.Arn>/*",  # type: ignore[arg-type]
                ):
                    ack(
                        child,
                        f"AwsSolutions-IAM5[{finding}]",
                        "CDK's BucketDeployment grants: read the CDK asset bucket, write the "
                        "site bucket's objects, invalidate the placeholder in CloudFront.",
                    )

    def _acknowledge_database(
        self, instance: rds.DatabaseInstance, ack: Callable[[IConstruct, str, str], None]
    ) -> None:
        ack(
            instance,
            "AwsSolutions-RDS11",
            "The default port: the instance is private (no public address, private subnets) "
            "and admits only the functions' security group; another port hides nothing.",
        )
        # The generated secret (instance.secret is its target attachment).
        ack(
            instance.node.find_child("Secret"),
            "AwsSolutions-SMG4",
            "No rotation: the functions read the credentials once per execution environment, "
            "so a rotated password would fail every new connection of a warm environment until "
            "it is recycled; rotation is an operator's decision (docs/deploy.md).",
        )
        if not self.config.database_multi_az:
            ack(
                instance,
                "AwsSolutions-RDS3",
                "dev runs one instance to halve the cost; prod is Multi-AZ "
                "(-c databaseMultiAz=true turns it on anywhere).",
            )
        if not self.config.retain_data:
            ack(
                instance,
                "AwsSolutions-RDS10",
                "dev is disposable: `cdk destroy` deletes its database; prod has deletion "
                "protection and a final snapshot.",
            )


def role_statements(role: iam.Role) -> list[Any]:
    """The role's inline statements (tests)."""
    return [s.to_json() for s in role.node.find_all() if isinstance(s, iam.PolicyStatement)]
