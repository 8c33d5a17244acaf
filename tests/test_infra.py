"""The CDK app, checked offline from every angle: assertions on the template, cfn-lint, cdk-nag
(AwsSolutions; synth fails on any unacknowledged finding) and a snapshot with hashes masked.

One synth per stage per session (jsii start-up and synth cost ~10 s each).
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

os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")

ROOT = Path(__file__).resolve().parents[1]
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

    build_all("arm64")
    saved = {k: os.environ.pop(k) for k in _CREDENTIAL_VARS if k in os.environ}
    try:
        app = cdk.App(outdir=str(outdir), context=context)
        config = load_config(app.node)
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
    ingest = functions["logsight-dev-ingest"]
    assert ingest["ReservedConcurrentExecutions"] == 50
    # Those that publish (the scheduled function re-drives dead letters) reach the broker.
    for name in ("ingest", "alerts"):
        assert "VpcConfig" in functions[f"logsight-dev-{name}"]
        assert (
            "LOGSIGHT_AMQP_SECRET_ARN"
            in functions[f"logsight-dev-{name}"]["Environment"]["Variables"]
        )
    # Functions that never use the broker are not given its secret (get_settings would read it).
    for name in ("processor", "api"):
        assert (
            "LOGSIGHT_AMQP_SECRET_ARN"
            not in functions[f"logsight-dev-{name}"]["Environment"]["Variables"]
        )
        assert "VpcConfig" not in functions[f"logsight-dev-{name}"]
    assert (
        "LOGSIGHT_SIGNING_KEY_SECRET_ARN"
        in functions["logsight-dev-api"]["Environment"]["Variables"]
    )
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
    (topic,) = dev.resources("AWS::SNS::Topic").values()
    assert "alias/aws/sns" in json.dumps(topic["Properties"]["KmsMasterKeyId"])
    (broker,) = dev.resources("AWS::AmazonMQ::Broker").values()
    assert broker["Properties"]["EncryptionOptions"] == {"UseAwsOwnedKey": True}
    # Bucket policy denies plain HTTP.
    (policy,) = dev.resources("AWS::S3::BucketPolicy").values()
    assert "aws:SecureTransport" in json.dumps(policy)


def test_removal_policies_by_stage(dev: Synth, prod: Synth) -> None:
    for kind in ("AWS::S3::Bucket", "AWS::Logs::LogGroup"):
        assert all(r.get("DeletionPolicy") == "Delete" for r in dev.resources(kind).values())
        assert all(r.get("DeletionPolicy") == "Retain" for r in prod.resources(kind).values())
    signing = [
        k for k in prod.resources("AWS::SecretsManager::Secret") if k.startswith("SigningKeys")
    ]
    assert prod.json["Resources"][signing[0]]["DeletionPolicy"] == "Retain"
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


def test_cfn_lint_is_clean(dev: Synth, prod: Synth) -> None:
    templates = [
        str(dev.outdir / "LogSight-dev.template.json"),
        str(prod.outdir / "LogSight-prod.template.json"),
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
    for kind in (
        "AWS::AmazonMQ::Broker",
        "AWS::Lambda::EventSourceMapping",
        "AWS::CloudFront::Distribution",
        "AWS::EC2::VPC",
    ):
        assert not localstack.resources(kind), kind
    assert len(localstack.resources("AWS::Lambda::Url")) == 2
    for fn in localstack.resources("AWS::Lambda::Function").values():
        env = fn["Properties"].get("Environment", {}).get("Variables", {})
        if "LOGSIGHT_AMQP_URL" in env:
            assert env["LOGSIGHT_AMQP_URL"].startswith("amqp://")


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
        "template changed: review, then UPDATE_SNAPSHOTS=1 pytest tests/test_infra.py"
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
    init = ROOT / "localstack" / "init" / "ready.d" / "10-logsight-secrets.sh"
    assert os.access(init, os.X_OK)
    assert "logsight/dev/database-url" in init.read_text()
    # The stack's LocalStack default broker URL names the compose service.
    from infra.config import STAGES

    assert "@rabbitmq:5672" in STAGES["dev"].localstack_amqp_url
