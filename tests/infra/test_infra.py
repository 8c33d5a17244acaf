"""The CDK app, checked offline from every angle: assertions on the template, cfn-lint, cdk-nag
(AwsSolutions; synth fails on any unacknowledged finding) and a snapshot with hashes masked.

One synth per variant per session (jsii start-up and synth cost ~10-15 s each; more on a busy
machine, hence the module's own timeout): dev and prod with the stack's own RDS database, an
external database, and LocalStack mode.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

# Session fixtures synthesize inside the first test that needs them.
pytestmark = pytest.mark.timeout(900)

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "infra" / "snapshots" / "LogSight-dev.template.json"
_CREDENTIAL_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
)


class Synth:
    def __init__(self, outdir: Path, stack: Any, template: dict[str, Any]) -> None:
        from aws_cdk.assertions import Template

        self.outdir = outdir
        self.stack = stack
        self.json = template
        self.template = Template.from_json(template)

    def resources(self, kind: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.json["Resources"].items() if v["Type"] == kind}


def _synth(outdir: Path, context: dict[str, Any]) -> Synth:
    import aws_cdk as cdk
    from cdk_nag import AwsSolutionsChecks

    from infra.build import build_all
    from infra.config import load_config
    from infra.stack import LogSightStack

    saved = {k: os.environ.pop(k) for k in _CREDENTIAL_VARS if k in os.environ}
    try:
        app = cdk.App(outdir=str(outdir), context=context)
        config = load_config(app.node)
        # LocalStack mode targets the Docker host's architecture, not arm64.
        build_all(config.lambda_architecture)
        stack = LogSightStack(app, config.stack_name, config=config)
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
        assembly = app.synth()  # raises if cdk-nag reports an unacknowledged finding
    finally:
        os.environ.update(saved)
    template = assembly.get_stack_by_name(stack.stack_name).template
    return Synth(outdir, stack, template)


@pytest.fixture(scope="session")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(tmp_path_factory.mktemp("cdk-dev"), {"stage": "dev"})


@pytest.fixture(scope="session")
def prod(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(tmp_path_factory.mktemp("cdk-prod"), {"stage": "prod"})


@pytest.fixture(scope="session")
def localstack(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(tmp_path_factory.mktemp("cdk-ls"), {"stage": "dev", "localstack": "true"})


EXTERNAL_PORT = 34567  # Timescale Cloud services listen on ports like this one


@pytest.fixture(scope="session")
def external(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return _synth(
        tmp_path_factory.mktemp("cdk-ext"),
        {"stage": "prod", "database": "external", "databasePort": str(EXTERNAL_PORT)},
    )


def _walk(value: Any) -> Iterator[Any]:
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk(item)


# ---------------------------------------------------------------------------------------------


def test_synth_is_offline_and_passes_cdk_nag(dev: Synth) -> None:
    # Reaching here means synth ran without credentials and cdk-nag found nothing unacknowledged.
    assert (dev.outdir / "LogSight-dev.template.json").exists()
    report = dev.outdir / "validation-report.json"
    if report.exists():
        data = json.loads(report.read_text())
        assert all(r["conclusion"] == "success" for r in data["pluginReports"]), data


def test_app_py_synthesizes_without_the_cdk_cli(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIAL_VARS}
    env.update(CDK_OUTDIR=str(tmp_path), CDK_CONTEXT_JSON=json.dumps({"stage": "dev"}))
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "LogSight-dev.template.json").exists()


def test_broker_and_its_secret(dev: Synth, prod: Synth) -> None:
    from aws_cdk.assertions import Match

    dev.template.has_resource_properties(
        "AWS::AmazonMQ::Broker",
        {
            "EngineType": "RABBITMQ",
            "DeploymentMode": "SINGLE_INSTANCE",
            "HostInstanceType": "mq.t3.micro",
            "PubliclyAccessible": False,
            "AutoMinorVersionUpgrade": True,
            "EncryptionOptions": {"UseAwsOwnedKey": True},
            "Logs": {"General": True},
        },
    )
    prod.template.has_resource_properties(
        "AWS::AmazonMQ::Broker", {"DeploymentMode": "CLUSTER_MULTI_AZ"}
    )
    (broker,) = dev.resources("AWS::AmazonMQ::Broker").values()
    users = json.dumps(broker["Properties"]["Users"])
    # The password is a dynamic reference resolved by CloudFormation, never a literal.
    assert "{{resolve:secretsmanager:" in users
    assert ":SecretString:password::}}" in users
    assert len(broker["Properties"]["SubnetIds"]) == 1
    dev.template.has_resource_properties(
        "AWS::SecretsManager::Secret",
        {
            "GenerateSecretString": Match.object_like(
                {"GenerateStringKey": "password", "ExcludePunctuation": True}
            )
        },
    )


def test_four_functions_and_the_deploy_step(dev: Synth) -> None:
    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in dev.resources("AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }
    expected = {
        "logsight-dev-ingest": "functions.ingest.handler.handler",
        "logsight-dev-processor": "functions.processor.handler.handler",
        "logsight-dev-api": "functions.api.handler.handler",
        "logsight-dev-alerts": "functions.alerts.handler.handler",
        "logsight-dev-deploy": "logsight_deploy.handler",
    }
    assert {name: props["Handler"] for name, props in functions.items()} == expected
    for props in functions.values():
        assert props["Runtime"] == "python3.12"
        assert props["Architectures"] == ["arm64"]
        env = props["Environment"]["Variables"]
        assert "LOGSIGHT_DATABASE_URL_SECRET_ARN" in env
        assert "LOGSIGHT_DATABASE_URL" not in env  # secrets only as ARNs
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "LogSight"
    # Those that publish (the scheduled function re-drives dead letters) get the broker's URL,
    # and the api, which reads the queues' depth for ingest health.
    for name in ("ingest", "alerts", "deploy", "api"):
        assert (
            "LOGSIGHT_AMQP_SECRET_ARN"
            in functions[f"logsight-dev-{name}"]["Environment"]["Variables"]
        )
    # Functions that never use the broker are not given its secret (get_settings would read it).
    for name in ("processor",):
        assert (
            "LOGSIGHT_AMQP_SECRET_ARN"
            not in functions[f"logsight-dev-{name}"]["Environment"]["Variables"]
        )
    api_env = functions["logsight-dev-api"]["Environment"]["Variables"]
    assert "LOGSIGHT_SIGNING_KEY_SECRET_ARN" in api_env
    assert api_env["LOGSIGHT_API_POOL_SIZE"] == "2"  # one request per environment at a time
    # The deploy step writes the first administrator's password where the operator reads it
    # (the database is private); only it may write there.
    deploy_env = functions["logsight-dev-deploy"]["Environment"]["Variables"]
    (first_admin,) = [
        k for k in dev.resources("AWS::SecretsManager::Secret") if k.startswith("FirstAdmin")
    ]
    assert deploy_env["LOGSIGHT_FIRST_ADMIN_SECRET_ARN"] == {"Ref": first_admin}
    assert deploy_env["LOGSIGHT_BUILTIN_AUTH"] == "true"
    writers = {
        logical
        for logical, statement in _statements(dev)
        if "secretsmanager:PutSecretValue" in json.dumps(statement["Action"])
        and {"Ref": first_admin} in _as_list(statement["Resource"])
    }
    assert writers and all(w.startswith("FunctionsDeployRole") for w in writers)
    assert dev.json["Outputs"]["FirstAdminSecretArn"]["Value"] == {"Ref": first_admin}
    dev.template.has_resource_properties("Custom::LogSightDeploy", {"Shards": "2"})


def test_one_event_source_mapping_per_shard_and_the_dead_letters(dev: Synth, prod: Synth) -> None:
    for synth, shards in ((dev, 2), (prod, 4)):
        mappings = list(synth.resources("AWS::Lambda::EventSourceMapping").values())
        queues = sorted(q for m in mappings for q in m["Properties"]["Queues"])
        assert queues == sorted(
            [f"logsight.events.{n}" for n in range(shards)] + ["logsight.events.dead"]
        )
        for mapping in mappings:
            props = mapping["Properties"]
            assert props["BatchSize"] == 500
            # Unset = Amazon MQ's default window, 0.5 s (the local poller's).
            assert "MaximumBatchingWindowInSeconds" not in props
            kinds = {c["Type"]: c["URI"] for c in props["SourceAccessConfigurations"]}
            assert kinds["VIRTUAL_HOST"] == "/"
            assert "Ref" in kinds["BASIC_AUTH"]
            assert "DependsOn" in mapping  # after the deploy step declared the queues
            assert any(d.startswith("DeployStep") for d in mapping["DependsOn"])


def test_schedules(dev: Synth) -> None:
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in dev.resources("AWS::Events::Rule").values()
    }
    assert rules["dev-logsight-alerts"]["ScheduleExpression"] == "rate(1 minute)"
    assert rules["dev-logsight-maintenance"]["ScheduleExpression"] == "rate(1 hour)"
    for props in rules.values():
        (target,) = props["Targets"]
        assert "FunctionsAlerts" in json.dumps(target["Arn"])


def test_routes(dev: Synth) -> None:
    routes = {}
    for route in dev.resources("AWS::ApiGatewayV2::Route").values():
        target = json.dumps(route["Properties"]["Target"])
        routes[route["Properties"]["RouteKey"]] = "api" if "ApiFn" in target else "ingest"
    sentry = {
        f"ANY {prefix}/api/{{project}}/{endpoint}{tail}": "ingest"
        for prefix in ("", "/{dsnPrefix}")
        for endpoint in ("envelope", "store")
        for tail in ("", "/{proxy+}")
    }
    assert routes == {
        "ANY /v1/{proxy+}": "ingest",
        **sentry,
        "ANY /api/{proxy+}": "api",
        "ANY /.well-known/{proxy+}": "api",
        "ANY /docs": "api",
    }
    dev.template.has_resource_properties(
        "AWS::ApiGatewayV2::Stage", {"StageName": "$default", "AutoDeploy": True}
    )
    (stage,) = dev.resources("AWS::ApiGatewayV2::Stage").values()
    assert "AccessLogSettings" in stage["Properties"]


def test_distribution_and_its_behaviours(dev: Synth) -> None:
    (dist,) = dev.resources("AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {
        "/api/*",
        "/.well-known/*",
        "/v1/*",
        "/docs",  # the api's redirect to /api/docs; the bucket would answer 403
        "/*/api/*/envelope*",
        "/*/api/*/store*",
    }
    origins = {o["Id"]: o for o in config["Origins"]}
    default_origin = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert "S3OriginConfig" in default_origin and "OriginAccessControlId" in default_origin
    for behaviour in behaviours.values():
        assert "CustomOriginConfig" in origins[behaviour["TargetOriginId"]]
        assert "POST" in behaviour["AllowedMethods"]
        # Managed CachingDisabled policy: API answers are never cached.
        assert behaviour["CachePolicyId"] == "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
    dev.template.resource_count_is("AWS::CloudFront::OriginAccessControl", 1)


# Managed AllViewerExceptHostHeader: every viewer header but Host (API Gateway routes on its
# own host name) plus CloudFront's headers, CloudFront-Viewer-Address among them.
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"


def test_the_api_believes_viewer_addresses_only_through_cloudfront(
    dev: Synth, localstack: Synth
) -> None:
    from logsight.api.client_address import CLOUDFRONT_SECRET_HEADER

    secrets = {
        k: v
        for k, v in dev.resources("AWS::SecretsManager::Secret").items()
        if k.startswith("WebCloudFrontSecret")
    }
    ((logical, secret),) = secrets.items()
    generated = secret["Properties"]["GenerateSecretString"]
    assert generated["ExcludePunctuation"] is True
    assert generated["PasswordLength"] >= 32

    (dist,) = dev.resources("AWS::CloudFront::Distribution").values()
    config = dist["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    for behaviour in config["CacheBehaviors"]:
        origin = origins[behaviour["TargetOriginId"]]
        headers = {h["HeaderName"].lower(): h["HeaderValue"] for h in origin["OriginCustomHeaders"]}
        # CloudFormation resolves the generated secret at deploy time: never a literal here.
        value = json.dumps(headers[CLOUDFRONT_SECRET_HEADER])
        assert "{{resolve:secretsmanager:" in value and logical in value
        assert behaviour["OriginRequestPolicyId"] == ALL_VIEWER_EXCEPT_HOST
    # The S3 origin does not get it.
    default_origin = origins[config["DefaultCacheBehavior"]["TargetOriginId"]]
    assert "OriginCustomHeaders" not in default_origin

    functions = {
        f["Properties"]["FunctionName"]: f["Properties"]["Environment"]["Variables"]
        for f in dev.resources("AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }
    api_env = functions.pop("logsight-dev-api")
    assert api_env["LOGSIGHT_CLOUDFRONT_SECRET_ARN"] == {"Ref": logical}
    assert "LOGSIGHT_CLOUDFRONT_SECRET" not in api_env
    assert not any("LOGSIGHT_CLOUDFRONT_SECRET_ARN" in env for env in functions.values())
    readers = [
        name
        for name, statement in _statements(dev)
        if "secretsmanager:GetSecretValue" in json.dumps(statement["Action"])
        and {"Ref": logical}
        in (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
    ]
    assert readers and all(name.startswith("FunctionsApiRole") for name in readers)

    # Without CloudFront (LocalStack) there is nothing to believe.
    for fn in localstack.resources("AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        assert "LOGSIGHT_CLOUDFRONT_SECRET_ARN" not in env


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _statements(synth: Synth) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical, policy in synth.resources("AWS::IAM::Policy").items():
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            found.append((logical, statement))
    return found


def test_iam_is_least_privilege(dev: Synth) -> None:
    for logical, statement in _statements(dev):
        actions = (
            statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        )
        assert "*" not in actions, logical
        if logical.startswith("CustomCDKBucketDeployment"):
            continue  # CDK's own handler (acknowledged in cdk-nag with reasons)
        for action in actions:
            assert not action.endswith(":*"), (logical, action)
        resources = (
            statement["Resource"]
            if isinstance(statement["Resource"], list)
            else [statement["Resource"]]
        )
        if "*" in resources:
            # Only EC2 ENI management, which has no resource-level permissions.
            assert all(a.startswith("ec2:") for a in actions), (logical, actions)
    api_policy = next(
        s
        for logical, s in _statements(dev)
        if logical.startswith("FunctionsApiRole") and "secretsmanager:PutSecretValue" in s["Action"]
    )
    assert "SigningKeys" in json.dumps(api_policy["Resource"])
    # The processor's role reads the broker secret (for the mapping) but cannot write anything.
    processor = [
        s for logical, s in _statements(dev) if "Processor" in logical or "Delivery" in logical
    ]
    assert not any("PutSecretValue" in json.dumps(s["Action"]) for s in processor)


def test_encryption_at_rest(dev: Synth) -> None:
    dev.template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            }
        },
    )
    (broker,) = dev.resources("AWS::AmazonMQ::Broker").values()
    assert broker["Properties"]["EncryptionOptions"] == {"UseAwsOwnedKey": True}
    # Bucket policy denies plain HTTP.
    (policy,) = dev.resources("AWS::S3::BucketPolicy").values()
    assert "aws:SecureTransport" in json.dumps(policy)


def test_removal_policies_by_stage(dev: Synth, prod: Synth) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::Logs::LogGroup", "AWS::SecretsManager::Secret"):
        assert all(r.get("DeletionPolicy") == "Delete" for r in dev.resources(kind).values())
        assert all(r.get("DeletionPolicy") == "Retain" for r in prod.resources(kind).values())
    assert len(prod.resources("AWS::EC2::VPCEndpoint")) == 3  # S3 gateway, Secrets Manager, STS


def test_alarms(dev: Synth) -> None:
    names = {a["Properties"]["AlarmName"] for a in dev.resources("AWS::CloudWatch::Alarm").values()}
    for expected in (
        "logsight-dev-dead-letter-queue",
        "logsight-dev-dead-letters",
        "logsight-dev-ingest-errors",
        "logsight-dev-ingest-throttles",
        "logsight-dev-processor-errors",
        "logsight-dev-queue-depth-0",
        "logsight-dev-queue-depth-1",
    ):
        assert expected in names
    dev.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)


def test_cfn_lint_is_clean(dev: Synth, prod: Synth, external: Synth, localstack: Synth) -> None:
    templates = [
        str(dev.outdir / "LogSight-dev.template.json"),
        str(prod.outdir / "LogSight-prod.template.json"),
        str(external.outdir / "LogSight-prod.template.json"),
        str(localstack.outdir / "LogSight-dev.template.json"),
    ]
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--config-file",
            str(ROOT / "infra" / ".cfnlintrc.yaml"),
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_localstack_mode(localstack: Synth) -> None:
    from infra.config import host_architecture

    # Paid LocalStack features are left out: the free plan's token deploys the rest.
    for kind in (
        "AWS::AmazonMQ::Broker",
        "AWS::Lambda::EventSourceMapping",
        "AWS::CloudFront::Distribution",
        "AWS::EC2::VPC",
        "AWS::RDS::DBInstance",
        "AWS::ApiGatewayV2::Api",
    ):
        assert not localstack.resources(kind), kind
    assert len(localstack.resources("AWS::Lambda::Url")) == 2
    functions = _functions(localstack)
    for name, fn in functions.items():
        env = fn.get("Environment", {}).get("Variables", {})
        if "LOGSIGHT_AMQP_URL" in env:
            assert env["LOGSIGHT_AMQP_URL"].startswith("amqp://")
        # The Docker host's architecture (x86_64 here): arm64 would need emulation.
        assert fn["Architectures"] == [host_architecture()], name
        # The database the compose file runs, from the secret its init script creates.
        arn = json.dumps(env["LOGSIGHT_DATABASE_URL_SECRET_ARN"])
        assert ":secret:logsight/dev/database-url" in arn
    # DSNs point at ingest's function URL (what clients can reach without the HTTP API).
    (ingest_url,) = [
        k for k, u in localstack.resources("AWS::Lambda::Url").items() if "Ingest" in k
    ]
    api_env = functions["logsight-dev-api"]["Environment"]["Variables"]
    assert api_env["LOGSIGHT_PUBLIC_URL"] == {"Fn::GetAtt": [ingest_url, "FunctionUrl"]}


# --- Networking: the event source mapping's pollers, the functions, the database ------------


def _security_groups(synth: Synth) -> dict[str, dict[str, Any]]:
    return synth.resources("AWS::EC2::SecurityGroup")


def _group(synth: Synth, prefix: str) -> str:
    (logical,) = [k for k in _security_groups(synth) if k.startswith(prefix)]
    return logical


def _rules(synth: Synth, group: str, direction: str) -> list[dict[str, Any]]:
    """Every ingress or egress rule of ``group``: inline and standalone resources alike."""
    inline_key = "SecurityGroupIngress" if direction == "in" else "SecurityGroupEgress"
    rules = list(synth.json["Resources"][group]["Properties"].get(inline_key, []))
    kind = (
        "AWS::EC2::SecurityGroupIngress" if direction == "in" else "AWS::EC2::SecurityGroupEgress"
    )
    for resource in synth.resources(kind).values():
        props = resource["Properties"]
        if props["GroupId"] == {"Fn::GetAtt": [group, "GroupId"]}:
            rules.append(props)
    return rules


def _peer(rule: dict[str, Any]) -> str:
    for key in ("CidrIp", "SourceSecurityGroupId", "DestinationSecurityGroupId"):
        if key in rule:
            value = rule[key]
            return value if isinstance(value, str) else value["Fn::GetAtt"][0]
    raise AssertionError(rule)


def _ports(rule: dict[str, Any]) -> tuple[Any, ...]:
    """(protocol, from, to); a port CloudFormation resolves is shown as its JSON."""
    return tuple(
        v if v is None or isinstance(v, int | str) else json.dumps(v, sort_keys=True)
        for v in (rule["IpProtocol"], rule.get("FromPort"), rule.get("ToPort"))
    )


def test_the_brokers_group_lets_the_event_source_pollers_out(dev: Synth, prod: Synth) -> None:
    """The mapping's pollers use ENIs in the broker's subnets with the broker's security groups;
    AWS's Lambda guide for Amazon MQ asks for 443 out to anywhere (Lambda, STS, Secrets Manager)
    and the broker port to and from those groups."""
    for synth in (dev, prod):
        broker_sg = _group(synth, "BrokerSecurityGroup")
        functions_sg = _group(synth, "NetworkFunctionSecurityGroup")
        (broker,) = synth.resources("AWS::AmazonMQ::Broker").values()
        assert broker["Properties"]["SecurityGroups"] == [{"Fn::GetAtt": [broker_sg, "GroupId"]}]
        egress = {(_peer(r), _ports(r)) for r in _rules(synth, broker_sg, "out")}
        assert egress == {
            ("0.0.0.0/0", ("tcp", 443, 443)),
            (broker_sg, ("tcp", 5671, 5671)),
        }
        ingress = {(_peer(r), _ports(r)) for r in _rules(synth, broker_sg, "in")}
        assert ingress == {
            (broker_sg, ("tcp", 5671, 5671)),
            (functions_sg, ("tcp", 5671, 5671)),
        }
        # 443 goes out through a NAT gateway from the broker's (private) subnets.
        routes = synth.resources("AWS::EC2::Route")
        for subnet in broker["Properties"]["SubnetIds"]:
            (association,) = [
                a["Properties"]
                for a in synth.resources("AWS::EC2::SubnetRouteTableAssociation").values()
                if a["Properties"]["SubnetId"] == subnet
            ]
            table = association["RouteTableId"]
            assert any(
                r["Properties"]["RouteTableId"] == table and "NatGatewayId" in r["Properties"]
                for r in routes.values()
            ), subnet


def test_every_function_runs_in_the_vpc_and_reaches_the_database_privately(
    dev: Synth, prod: Synth
) -> None:
    for synth in (dev, prod):
        functions_sg = _group(synth, "NetworkFunctionSecurityGroup")
        webhook_sg = _group(synth, "NetworkWebhookSecurityGroup")
        database_sg = _group(synth, "DatabaseSecurityGroup")
        broker_sg = _group(synth, "BrokerSecurityGroup")
        (instance_logical,) = synth.resources("AWS::RDS::DBInstance")
        private = {
            k for k in synth.resources("AWS::EC2::Subnet") if k.startswith("NetworkVpcprivate")
        }
        for name, props in _functions(synth).items():
            vpc = props["VpcConfig"]
            assert {s["Ref"] for s in vpc["SubnetIds"]} == private, name
            groups = [g["Fn::GetAtt"][0] for g in vpc["SecurityGroupIds"]]
            # Only the scheduled function may go anywhere: webhooks on any port via the NAT.
            expected = [functions_sg, webhook_sg] if name.endswith("-alerts") else [functions_sg]
            assert groups == expected, name
        egress = {(_peer(r), _ports(r)) for r in _rules(synth, functions_sg, "out")}
        db_port = {"Fn::GetAtt": [instance_logical, "Endpoint.Port"]}
        port = json.dumps(db_port, sort_keys=True)
        assert egress == {
            ("0.0.0.0/0", ("tcp", 443, 443)),  # AWS APIs, identity providers' key sets
            (broker_sg, ("tcp", 5671, 5671)),
            (database_sg, ("tcp", port, port)),
        }
        # The database admits the functions and nothing else, and sends nothing.
        ingress = _rules(synth, database_sg, "in")
        assert [(_peer(r), r["FromPort"]) for r in ingress] == [(functions_sg, db_port)]
        (placeholder,) = _rules(synth, database_sg, "out")
        assert placeholder["CidrIp"] == "255.255.255.255/32"  # CDK's "no egress" rule
        (webhooks,) = _rules(synth, webhook_sg, "out")
        assert webhooks == {
            "CidrIp": "0.0.0.0/0",
            "Description": "Allow all outbound traffic by default",
            "IpProtocol": "-1",
        }


def _functions(synth: Synth) -> dict[str, dict[str, Any]]:
    return {
        f["Properties"]["FunctionName"]: f["Properties"]
        for f in synth.resources("AWS::Lambda::Function").values()
        if "FunctionName" in f["Properties"]
    }


def test_the_stack_creates_its_database(dev: Synth, prod: Synth) -> None:
    for synth, stage in ((dev, "dev"), (prod, "prod")):
        (instance,) = synth.resources("AWS::RDS::DBInstance").values()
        props = instance["Properties"]
        assert props["Engine"] == "postgres"
        assert props["EngineVersion"].startswith("17.")
        assert props["StorageEncrypted"] is True
        assert props["PubliclyAccessible"] is False
        assert props["BackupRetentionPeriod"] >= 7
        assert props["AutoMinorVersionUpgrade"] is True
        assert props["CACertificateIdentifier"] == "rds-ca-rsa2048-g1"
        assert props["DBName"] == "logsight"
        password = json.dumps(props["MasterUserPassword"])
        assert "{{resolve:secretsmanager:" in password  # generated, never in the template
        (group,) = synth.resources("AWS::RDS::DBSubnetGroup").values()
        private = {
            k for k in synth.resources("AWS::EC2::Subnet") if k.startswith("NetworkVpcprivate")
        }
        assert {s["Ref"] for s in group["Properties"]["SubnetIds"]} == private
        (parameters,) = synth.resources("AWS::RDS::DBParameterGroup").values()
        assert parameters["Properties"]["Parameters"] == {"rds.force_ssl": "1"}
        # Every function reads the generated credentials (host, port, username, password,
        # dbname), through the attachment that adds the instance's address to them.
        (attachment,) = synth.resources("AWS::SecretsManager::SecretTargetAttachment")
        for name, fn in _functions(synth).items():
            env = fn["Environment"]["Variables"]
            assert env["LOGSIGHT_DATABASE_URL_SECRET_ARN"] == {"Ref": attachment}, name
        if stage == "dev":
            assert props["DBInstanceClass"] == "db.t4g.micro"
            assert props["MultiAZ"] is False
            assert props["DeletionProtection"] is False
            assert instance["DeletionPolicy"] == "Delete"
        else:
            assert props["MultiAZ"] is True
            assert props["DeletionProtection"] is True
            assert instance["DeletionPolicy"] == "Snapshot"
            assert instance["UpdateReplacePolicy"] == "Snapshot"
    # The deploy step migrates it: only once it exists and the way to it is open.
    for synth in (dev, prod):
        (step,) = synth.resources("Custom::LogSightDeploy").values()
        after = set(step["DependsOn"])
        (instance_logical,) = synth.resources("AWS::RDS::DBInstance")
        assert instance_logical in after
        for kind in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
            assert set(synth.resources(kind)) <= after, kind


def test_an_external_database(external: Synth) -> None:
    assert not external.resources("AWS::RDS::DBInstance")
    functions_sg = _group(external, "NetworkFunctionSecurityGroup")
    egress = {(_peer(r), _ports(r)) for r in _rules(external, functions_sg, "out")}
    assert ("0.0.0.0/0", ("tcp", EXTERNAL_PORT, EXTERNAL_PORT)) in egress
    for name, fn in _functions(external).items():
        assert "VpcConfig" in fn, name
        arn = json.dumps(fn["Environment"]["Variables"]["LOGSIGHT_DATABASE_URL_SECRET_ARN"])
        assert ":secret:logsight/prod/database-url" in arn, name


def test_no_reserved_concurrency_unless_asked(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        for name, fn in _functions(synth).items():
            assert "ReservedConcurrentExecutions" not in fn, name


def test_impossible_reservations_are_refused_at_synth_time() -> None:
    import aws_cdk as cdk

    from infra.config import ConfigError, load_config

    def config(**context: str) -> Any:
        return load_config(cdk.App(context={"stage": "dev", **context}).node)

    assert config().ingest_reserved_concurrency == 0
    assert config(ingestReservedConcurrency="200").ingest_reserved_concurrency == 200
    for quota, reserved in (("10", "5"), ("50", "5"), ("1000", "901")):
        with pytest.raises(ConfigError, match="Lambda keeps 100") as refused:
            config(ingestReservedConcurrency=reserved, lambdaConcurrencyQuota=quota)
        assert f"quota is {quota}" in str(refused.value)
    with pytest.raises(ConfigError, match="0 \\(no reservation\\)"):
        config(ingestReservedConcurrency="-1")
    with pytest.raises(ConfigError, match="database="):
        config(database="aurora")
    with pytest.raises(ConfigError, match="at least two zones"):
        config(availabilityZones="eu-west-1a")


def test_a_reservation_when_asked_for() -> None:
    """A unit of the functions construct: the reservation reaches ingest and nothing else."""
    import dataclasses

    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.config import STAGES
    from infra.functions import Functions

    stack = cdk.Stack(cdk.App())
    config = dataclasses.replace(STAGES["dev"], ingest_reserved_concurrency=200)
    Functions(
        stack,
        "Functions",
        config=config,
        environment={},
        vpc=None,
        subnets=None,
        security_group=None,
    )
    functions = Template.from_stack(stack).find_resources("AWS::Lambda::Function")
    reserved = {
        p["Properties"]["FunctionName"]: p["Properties"].get("ReservedConcurrentExecutions")
        for p in functions.values()
    }
    assert reserved.pop("logsight-dev-ingest") == 200
    assert set(reserved.values()) == {None}


def test_two_availability_zones_unless_named(dev: Synth, prod: Synth) -> None:
    import dataclasses

    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.config import STAGES
    from infra.network import Network

    for synth in (dev, prod):
        zones = {
            json.dumps(s["Properties"]["AvailabilityZone"])
            for k, s in synth.resources("AWS::EC2::Subnet").items()
            if k.startswith("NetworkVpcprivate")
        }
        assert zones == {json.dumps({"Fn::Select": [i, {"Fn::GetAZs": ""}]}) for i in (0, 1)}
    assert len(prod.resources("AWS::EC2::NatGateway")) == 2  # one per zone
    assert len(dev.resources("AWS::EC2::NatGateway")) == 1
    # Three zones need their names (the stack is environment-agnostic).
    stack = cdk.Stack(cdk.App())
    config = dataclasses.replace(
        STAGES["prod"], availability_zones="eu-west-1a,eu-west-1b,eu-west-1c", nat_gateways=3
    )
    Network(stack, "Network", config=config)
    subnets = Template.from_stack(stack).find_resources("AWS::EC2::Subnet")
    assert sorted(
        s["Properties"]["AvailabilityZone"] for k, s in subnets.items() if "private" in k
    ) == ["eu-west-1a", "eu-west-1b", "eu-west-1c"]


def test_alarm_notifications_can_be_encrypted_and_delivered(dev: Synth, prod: Synth) -> None:
    for synth in (dev, prod):
        (topic,) = synth.resources("AWS::SNS::Topic").values()
        ((key_logical, key),) = synth.resources("AWS::KMS::Key").items()
        assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::GetAtt": [key_logical, "Arn"]}
        assert "alias/aws/sns" not in json.dumps(synth.json)
        assert key["Properties"]["EnableKeyRotation"] is True
        statements = key["Properties"]["KeyPolicy"]["Statement"]
        cloudwatch = [
            s for s in statements if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert len(cloudwatch) == 1
        assert sorted(cloudwatch[0]["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
        assert cloudwatch[0]["Effect"] == "Allow"
        (policy,) = synth.resources("AWS::SNS::TopicPolicy").values()
        publish = [
            s
            for s in policy["Properties"]["PolicyDocument"]["Statement"]
            if s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}
        ]
        assert publish and publish[0]["Action"] == "sns:Publish"
        actions = {
            a["Properties"]["AlarmName"]: a["Properties"]["AlarmActions"]
            for a in synth.resources("AWS::CloudWatch::Alarm").values()
        }
        (topic_logical,) = synth.resources("AWS::SNS::Topic")
        assert all(v == [{"Ref": topic_logical}] for v in actions.values()), actions


def test_log_groups_have_generated_names(dev: Synth, prod: Synth) -> None:
    """A prod group is retained when a failed first deploy rolls back; a fixed name would make
    the retry fail with "already exists"."""
    for synth in (dev, prod):
        groups = synth.resources("AWS::Logs::LogGroup")
        assert all("LogGroupName" not in g["Properties"] for g in groups.values())
        for name, fn in _functions(synth).items():
            log_group = fn["LoggingConfig"]["LogGroup"]["Ref"]
            assert log_group in groups, name
            assert log_group.startswith("Functions" + name.rsplit("-", 1)[1].title()), name
        outputs = synth.json["Outputs"]
        assert outputs["DeployLogGroup"]["Value"] == {
            "Ref": next(k for k in groups if k.startswith("FunctionsDeployLogs"))
        }


_HASH = re.compile(r"[0-9a-f]{64}")


def _masked(template: dict[str, Any]) -> dict[str, Any]:
    text = json.dumps(template, indent=1, sort_keys=True)
    text = _HASH.sub("<hash>", text)
    text = re.sub(r'"CodeSha256": "[0-9a-f]{16}"', '"CodeSha256": "<hash>"', text)
    masked: dict[str, Any] = json.loads(text)
    return masked


def test_snapshot(dev: Synth) -> None:
    current = _masked(dev.json)
    if os.environ.get("UPDATE_SNAPSHOTS") == "1" or not SNAPSHOT.exists():
        SNAPSHOT.write_text(json.dumps(current, indent=1, sort_keys=True) + "\n")
    expected = json.loads(SNAPSHOT.read_text())
    assert current == expected, (
        "template changed: review, then UPDATE_SNAPSHOTS=1 pytest tests/infra/test_infra.py"
    )


def test_localstack_compose_file() -> None:
    """`docker compose config` needs the compose plugin, absent here (only the docker client
    is installed): parse the file and check what the LocalStack mode depends on instead."""
    import yaml  # type: ignore[import-untyped]

    compose = yaml.safe_load((ROOT / "localstack" / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"localstack", "rabbitmq", "timescaledb"}
    env = services["localstack"]["environment"]
    assert env["LAMBDA_DOCKER_NETWORK"] == compose["networks"]["logsight"]["name"]
    assert all(s.get("healthcheck") for name, s in services.items() if name != "localstack")
    # LocalStack's images start only with an auth token (since 2026-03-23): compose refuses
    # to start without one and says why.
    token = env["LOCALSTACK_AUTH_TOKEN"]
    assert token.startswith("${LOCALSTACK_AUTH_TOKEN:?") and "docs/deploy.md" in token
    # Every service the LocalStack template uses is started, and no paid one is relied on.
    started = set(env["SERVICES"].split(","))
    assert {"lambda", "iam", "secretsmanager", "cloudformation", "kms", "sns"} <= started
    assert not started & {"mq", "rds", "apigatewayv2", "cloudfront", "ec2"}
    init = ROOT / "localstack" / "init" / "ready.d" / "10-logsight-secrets.sh"
    assert os.access(init, os.X_OK)
    assert "logsight/dev/database-url" in init.read_text()
    # The stack's LocalStack default broker URL names the compose service.
    from infra.config import STAGES

    assert "@rabbitmq:5672" in STAGES["dev"].localstack_amqp_url


def test_the_alerts_function_schedule_secret_email_and_egress(dev: Synth) -> None:
    (alerts_rule,) = [
        r["Properties"]
        for r in dev.resources("AWS::Events::Rule").values()
        if r["Properties"]["Name"] == "dev-logsight-alerts"
    ]
    assert alerts_rule["ScheduleExpression"] == "rate(1 minute)"
    assert "FunctionsAlerts" in json.dumps(alerts_rule["Targets"][0]["Arn"])

    # The channel-secret key: generated by the stack, read by the api and the alerts function.
    (secret_logical,) = [
        k
        for k, v in dev.resources("AWS::SecretsManager::Secret").items()
        if k.startswith("Notifications")
    ]
    generated = dev.json["Resources"][secret_logical]["Properties"]["GenerateSecretString"]
    assert generated["GenerateStringKey"] == "key" and generated["PasswordLength"] >= 32
    functions = _functions(dev)
    for name in ("logsight-dev-api", "logsight-dev-alerts"):
        env = functions[name]["Environment"]["Variables"]
        assert env["LOGSIGHT_NOTIFICATIONS_SECRET_ARN"] == {"Ref": secret_logical}, name
    readers = {
        logical.split("Role")[0]
        for logical, s in _statements(dev)
        if "secretsmanager:GetSecretValue" in s["Action"]
        and {"Ref": secret_logical}
        in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    assert readers == {"FunctionsApi", "FunctionsAlerts"}

    # E-mail through SES, from the alerts function only.
    env = functions["logsight-dev-alerts"]["Environment"]["Variables"]
    assert env["LOGSIGHT_ALERTS_EMAIL_TRANSPORT"] == "ses"
    senders = [
        (logical, s)
        for logical, s in _statements(dev)
        if "ses:SendEmail" in json.dumps(s["Action"])
    ]
    assert [logical.split("Role")[0] for logical, _ in senders] == ["FunctionsAlerts"]
    assert "identity/*" in json.dumps(senders[0][1]["Resource"])

    # Webhooks on any port, through the NAT: the alerts function alone has the open group.
    webhook_sg = _group(dev, "NetworkWebhookSecurityGroup")
    (out,) = _rules(dev, webhook_sg, "out")
    assert out["CidrIp"] == "0.0.0.0/0" and out["IpProtocol"] == "-1"
    groups = {
        name: [g["Fn::GetAtt"][0] for g in props["VpcConfig"]["SecurityGroupIds"]]
        for name, props in functions.items()
    }
    assert [name for name, found in groups.items() if webhook_sg in found] == [
        "logsight-dev-alerts"
    ]


def test_alert_emails_can_be_pinned_to_one_sender(tmp_path: Path) -> None:
    synth = _synth(tmp_path, {"stage": "dev", "alertsEmailFrom": "alerts@example.com"})
    (statement,) = [s for _, s in _statements(synth) if "ses:SendEmail" in json.dumps(s["Action"])]
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "alerts@example.com"}}
    env = _functions(synth)["logsight-dev-alerts"]["Environment"]["Variables"]
    assert env["LOGSIGHT_ALERTS_EMAIL_FROM"] == "alerts@example.com"


def test_dashboard_deployment_and_caching(dev: Synth) -> None:
    """The export goes to the bucket in two parts: hashed assets cached for a year and never
    pruned, everything else (HTML) revalidated on every request, with an invalidation."""
    deployments = {
        d["Properties"].get("SystemMetadata", {}).get("cache-control"): d["Properties"]
        for d in dev.resources("Custom::CDKBucketDeployment").values()
    }
    assets = deployments["public, max-age=31536000, immutable"]
    assert assets["Include"] == ["_next/static/*"] and assets["Exclude"] == ["*"]
    assert assets["Prune"] is False and "DistributionId" not in assets
    pages = deployments["no-cache"]
    assert pages["Exclude"] == ["_next/static/*"]
    assert pages["DistributionPaths"] == ["/*"] and "DistributionId" in pages

    (dist,) = dev.resources("AWS::CloudFront::Distribution").values()
    default = dist["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    # The objects' own Cache-Control decides: a minimum TTL of 0 lets no-cache mean no cache.
    (policy_id,) = [
        k for k in dev.resources("AWS::CloudFront::CachePolicy") if k.startswith("WebSiteCache")
    ]
    assert default["CachePolicyId"] == {"Ref": policy_id}
    policy = dev.resources("AWS::CloudFront::CachePolicy")[policy_id]["Properties"]
    assert policy["CachePolicyConfig"]["MinTTL"] == 0
    # Routes map to their index.html (ids are in query strings: every route is a file).
    (association,) = default["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    (function,) = dev.resources("AWS::CloudFront::Function").values()
    code = function["Properties"]["FunctionCode"]
    assert 'uri + "index.html"' in code and 'uri + "/index.html"' in code
