"""Secrets Manager ARNs → settings at start-up (logsight.aws_secrets), against moto."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

boto3 = pytest.importorskip("boto3")
moto = pytest.importorskip("moto")

from aws_lambda_powertools.utilities.parameters import base as parameters_base  # noqa: E402

from logsight.aws_secrets import (  # noqa: E402
    SecretFormatError,
    amqp_url_from_secret,
    database_url_from_secret,
)
from logsight.config import get_settings  # noqa: E402

ENDPOINT = "amqps://b-1234.mq.eu-west-1.amazonaws.com:5671/%2F"


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    with moto.mock_aws():
        parameters_base.DEFAULT_PROVIDERS.clear()
        parameters_base.clear_caches()
        get_settings.cache_clear()
        yield boto3.client("secretsmanager", region_name="eu-west-1")
        get_settings.cache_clear()
        parameters_base.DEFAULT_PROVIDERS.clear()


def test_get_settings_fills_urls_from_secrets(
    secrets: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = secrets
    db = client.create_secret(  # type: ignore[attr-defined]
        Name="logsight/test/database-url", SecretString="postgresql://u:p@db.example:5432/logsight"
    )
    broker = client.create_secret(  # type: ignore[attr-defined]
        Name="logsight/test/broker",
        SecretString=json.dumps({"username": "logsight", "password": "p@ss/w:rd"}),
    )
    monkeypatch.setenv("LOGSIGHT_DATABASE_URL_SECRET_ARN", db["ARN"])
    monkeypatch.setenv("LOGSIGHT_AMQP_SECRET_ARN", broker["ARN"])
    monkeypatch.setenv("LOGSIGHT_AMQP_URL", ENDPOINT)
    settings = get_settings()
    assert settings.database_url == "postgresql://u:p@db.example:5432/logsight"
    assert settings.amqp_url == (
        "amqps://logsight:p%40ss%2Fw%3Ard@b-1234.mq.eu-west-1.amazonaws.com:5671/%2F"
    )
    assert get_settings() is settings  # once per environment


def test_cloudfront_secret_from_its_arn(secrets: object, monkeypatch: pytest.MonkeyPatch) -> None:
    arn = secrets.create_secret(Name="edge", SecretString="generated-by-the-stack")["ARN"]  # type: ignore[attr-defined]
    monkeypatch.setenv("LOGSIGHT_CLOUDFRONT_SECRET_ARN", arn)
    assert get_settings().cloudfront_secret == "generated-by-the-stack"


def test_rds_style_database_secret(secrets: object, monkeypatch: pytest.MonkeyPatch) -> None:
    value = {
        "username": "app",
        "password": "s3cr:t",
        "host": "x.rds.amazonaws.com",
        "port": 5432,
        "dbname": "logsight",
    }
    arn = secrets.create_secret(Name="rds", SecretString=json.dumps(value))["ARN"]  # type: ignore[attr-defined]
    monkeypatch.setenv("LOGSIGHT_DATABASE_URL_SECRET_ARN", arn)
    assert get_settings().database_url == (
        "postgresql://app:s3cr%3At@x.rds.amazonaws.com:5432/logsight?sslmode=require"
    )


def test_the_stacks_rds_secret(secrets: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """The JSON the stack's RDS credentials hold once CloudFormation attached the instance
    (infra/database.py): CDK's generator may put '=', ',', '^' and the like in the password."""
    from psycopg.conninfo import conninfo_to_dict

    value = {
        "dbClusterIdentifier": None,
        "password": "a=b,c^d-e_f.g]h",
        "dbname": "logsight",
        "engine": "postgres",
        "port": 5432,
        "dbInstanceIdentifier": "logsight-dev-databaseinstance-abc",
        "host": "logsight-dev-databaseinstance-abc.cxyz.eu-west-1.rds.amazonaws.com",
        "username": "logsight",
    }
    arn = secrets.create_secret(Name="rds-attached", SecretString=json.dumps(value))["ARN"]  # type: ignore[attr-defined]
    monkeypatch.setenv("LOGSIGHT_DATABASE_URL_SECRET_ARN", arn)
    params = conninfo_to_dict(get_settings().database_url or "")
    assert params == {
        "user": "logsight",
        "password": "a=b,c^d-e_f.g]h",
        "host": value["host"],
        "port": "5432",
        "dbname": "logsight",
        # Encrypted (the instance refuses anything else: rds.force_ssl=1); see docs/deploy.md
        # for why the certificate is not verified against the RDS CA.
        "sslmode": "require",
    }


def test_secret_formats() -> None:
    assert database_url_from_secret('{"url": "postgres://a@b/c"}') == "postgres://a@b/c"
    assert amqp_url_from_secret("amqps://u:p@h:5671/v", ENDPOINT) == "amqps://u:p@h:5671/v"
    with pytest.raises(SecretFormatError):
        database_url_from_secret("not json")
    with pytest.raises(SecretFormatError):
        amqp_url_from_secret('{"username": "u"}', ENDPOINT)


def test_without_arns_nothing_is_imported() -> None:
    code = (
        "import sys; from logsight.config import get_settings; get_settings();"
        "bad = [m for m in ('boto3', 'logsight.aws_secrets') if m in sys.modules];"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
