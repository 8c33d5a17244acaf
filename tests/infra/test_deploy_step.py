"""The deploy step (infra/runtime/logsight_deploy.py) as CloudFormation runs it: the custom
resource request in, the response PUT to its ResponseURL (here a local HTTP server), against
the machine's PostgreSQL and RabbitMQ, and against a database that never answers."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psycopg
import pytest

from infra.runtime import logsight_deploy
from logsight.config import get_settings
from tests.conftest import create_database, create_vhost, delete_vhost, drop_database


class _Responses(BaseHTTPRequestHandler):
    received: list[dict[str, Any]]

    def do_PUT(self) -> None:
        length = int(self.headers["content-length"])
        self.received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Responses", (_Responses,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/response", received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_database() -> Iterator[str]:
    """A TCP port that accepts connections and never says a word: what a database behind a
    security group that drops the reply, or a stalled server, looks like to libpq."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"postgresql://logsight:secret@127.0.0.1:{listener.getsockname()[1]}/logsight"
    finally:
        listener.close()


def _event(url: str, request: str = "Create") -> dict[str, Any]:
    return {
        "RequestType": request,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/LogSight-dev/1",
        "RequestId": "req-1",
        "LogicalResourceId": "DeployStepB61365A9",
        "ResourceProperties": {"Shards": "2"},
    }


@pytest.fixture
def environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def test_an_unreachable_database_fails_the_deploy_in_seconds_with_its_reason(
    environment: pytest.MonkeyPatch,
    silent_database: str,
    response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    environment.setenv("LOGSIGHT_DATABASE_URL", silent_database)
    environment.setattr(logsight_deploy, "CONNECT_TIMEOUT_SECONDS", 2)
    started = time.monotonic()
    logsight_deploy.handler(_event(url), None)
    elapsed = time.monotonic() - started
    (response,) = received
    assert response["Status"] == "FAILED"
    reason = response["Reason"]
    port = silent_database.rsplit(":", 1)[1].split("/", maxsplit=1)[0]
    assert reason.startswith("DeployError: cannot connect to the database at 127.0.0.1:")
    assert f"127.0.0.1:{port} (database logsight, 2 s per attempt)" in reason
    assert "security groups" in reason
    assert ":secret@" not in reason  # the password never reaches CloudFormation's events
    # libpq's timeout, not the function's 300 s: one or two attempts of 2 s.
    assert elapsed < 15


def test_a_missing_database_url_says_so(
    environment: pytest.MonkeyPatch, response_url: tuple[str, list[dict[str, Any]]]
) -> None:
    url, received = response_url
    environment.delenv("LOGSIGHT_DATABASE_URL", raising=False)
    environment.delenv("LOGSIGHT_DATABASE_URL_SECRET_ARN", raising=False)
    logsight_deploy.handler(_event(url), None)
    (response,) = received
    assert response["Status"] == "FAILED"
    assert response["Reason"] == "DeployError: the database URL secret is not set"


@pytest.fixture
def secrets(environment: pytest.MonkeyPatch) -> Iterator[Any]:
    """Secrets Manager (moto): the deploy step writes the first administrator's password."""
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        environment.setenv(key, "testing")
    environment.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with moto.mock_aws():
        yield boto3.client("secretsmanager", region_name="eu-west-1")


@pytest.fixture
def stack_services(environment: pytest.MonkeyPatch) -> Iterator[str]:
    database, broker = create_database("logsight_deploy"), create_vhost("logsight-deploy")
    environment.setenv("LOGSIGHT_DATABASE_URL", database)
    environment.setenv("LOGSIGHT_AMQP_URL", broker)
    environment.setenv("LOGSIGHT_SHARDS", "2")
    try:
        yield database
    finally:
        drop_database(database)
        delete_vhost(broker)


def _admins(database: str) -> list[str]:
    with psycopg.connect(database) as conn:
        rows = conn.execute("SELECT email FROM users WHERE password_hash IS NOT NULL").fetchall()
    return [r[0] for r in rows]


def test_the_step_migrates_declares_the_topology_and_makes_the_first_admin(
    environment: pytest.MonkeyPatch,
    stack_services: str,
    secrets: Any,
    response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    arn = secrets.create_secret(Name="LogSight-dev/FirstAdmin", SecretString="{}")["ARN"]
    environment.setenv("LOGSIGHT_FIRST_ADMIN_SECRET_ARN", arn)
    logsight_deploy.handler(_event(url), None)
    written = secrets.get_secret_value(SecretId=arn)["SecretString"]
    logsight_deploy.handler(_event(url, "Update"), None)  # again: nothing left to do
    first, second = received
    assert first["Status"] == "SUCCESS", first["Reason"]
    assert first["Data"]["MigrationsApplied"] > 0
    assert "logsight.events.0" in first["Data"]["Queues"]
    assert first["Data"]["FirstAdminCreated"] == "true"
    assert second["Status"] == "SUCCESS", second["Reason"]
    assert second["Data"]["MigrationsApplied"] == 0
    assert second["Data"]["FirstAdminCreated"] == "false"
    # The private database's first account, and its password where the operator can read it.
    admin = json.loads(written)
    assert _admins(stack_services) == [admin["email"]] == ["admin@localhost"]
    assert len(admin["password"]) >= 20
    assert secrets.get_secret_value(SecretId=arn)["SecretString"] == written  # kept


def test_no_administrator_without_its_password_in_the_secret(
    environment: pytest.MonkeyPatch,
    stack_services: str,
    secrets: Any,
    response_url: tuple[str, list[dict[str, Any]]],
) -> None:
    url, received = response_url
    missing = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gone-AbCdEf"
    environment.setenv("LOGSIGHT_FIRST_ADMIN_SECRET_ARN", missing)
    logsight_deploy.handler(_event(url), None)
    (response,) = received
    assert response["Status"] == "FAILED"
    assert "ResourceNotFoundException" in response["Reason"]
    # Nobody could ever log in with that account: it was not kept, the next deploy makes it.
    assert _admins(stack_services) == []
