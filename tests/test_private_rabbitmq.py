"""The fault-test broker itself: a kill -9 must behave like a crash that loses nothing
confirmed, and nothing done to the private node may reach the shared rabbit@localhost."""

from __future__ import annotations

import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pika
import pika.exceptions
import pytest

from tests.support.private_rabbitmq import SHARED_NODE, PrivateRabbitMQ

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

QUEUE = "logsight.fault-test"


def _shared_node_pid() -> int:
    result = subprocess.run(
        ["rabbitmqctl", "-n", SHARED_NODE, "eval", "os:getpid()."],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return int(result.stdout.strip().strip('"'))


def _connect(url: str) -> pika.BlockingConnection:
    params = pika.URLParameters(url)
    # One attempt: pika's retries would hide how fast a dead broker is noticed.
    params.connection_attempts = 1
    params.socket_timeout = 2
    return pika.BlockingConnection(params)


@pytest.fixture
def rabbit() -> Iterator[PrivateRabbitMQ]:
    node = PrivateRabbitMQ()
    try:
        yield node
    finally:
        node.cleanup()


@pytest.fixture
def shared_node_pid() -> Iterator[int]:
    before = _shared_node_pid()
    yield before
    # Same OS pid afterwards: the shared node was neither killed nor restarted.
    status = subprocess.run(
        ["rabbitmqctl", "-n", SHARED_NODE, "status"],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert status.returncode == 0
    assert _shared_node_pid() == before


def test_confirmed_message_survives_kill_and_stop(
    rabbit: PrivateRabbitMQ, shared_node_pid: int
) -> None:
    started = time.monotonic()
    url = rabbit.start()
    assert url == f"amqp://guest:guest@127.0.0.1:{rabbit.port}/%2F"
    assert rabbit.is_running()
    first_pid = rabbit.pid
    assert first_pid is not None
    assert first_pid != shared_node_pid
    first_start = time.monotonic() - started

    connection = _connect(url)
    channel = connection.channel()
    channel.confirm_delivery()
    channel.queue_declare(QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
    # With confirms on, basic_publish returns only after the broker has the message.
    channel.basic_publish(
        exchange="",
        routing_key=QUEUE,
        body=b"survives kill -9",
        properties=pika.BasicProperties(delivery_mode=pika.DeliveryMode.Persistent),
        mandatory=True,
    )
    connection.close()
    # A kill within 500 ms of declaring a quorum queue breaks it for good on RabbitMQ
    # 3.10 (see sync_quorum_registry). That is a broker bug, not what this test is about.
    rabbit.sync_quorum_registry()

    started = time.monotonic()
    rabbit.kill()
    kill_took = time.monotonic() - started
    assert not rabbit.is_running()
    assert not Path(f"/proc/{first_pid}").exists()

    # A client of a dead broker has to find out at once, not after a long TCP timeout.
    started = time.monotonic()
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        _connect(url)
    assert time.monotonic() - started < 2

    started = time.monotonic()
    assert rabbit.start() == url
    restart_took = time.monotonic() - started
    assert rabbit.pid not in (None, first_pid)

    connection = _connect(url)
    channel = connection.channel()
    method, _properties, body = channel.basic_get(QUEUE, auto_ack=False)
    assert method is not None, "the confirmed message was lost by the kill"
    assert body == b"survives kill -9"
    # Left unacked so the graceful stop below has a message to keep as well.
    connection.close()

    rabbit.stop()
    assert not rabbit.is_running()
    rabbit.start()

    connection = _connect(url)
    channel = connection.channel()
    method, _properties, body = channel.basic_get(QUEUE, auto_ack=True)
    assert body == b"survives kill -9"
    assert channel.basic_get(QUEUE, auto_ack=True)[0] is None
    connection.close()

    print(
        f"first start {first_start:.1f}s, kill {kill_took:.2f}s, "
        f"restart after kill {restart_took:.1f}s"
    )


def test_context_manager_leaves_nothing_behind(shared_node_pid: int) -> None:
    name = f"logsight-test-ctx-{secrets.token_hex(3)}"
    with PrivateRabbitMQ(name=name) as rabbit:
        assert rabbit.node == f"{name}@localhost"
        assert rabbit.is_running()
        pid = rabbit.pid
        data_dir = rabbit.data_dir
        _connect(rabbit.url).close()

    assert not data_dir.exists()
    assert not Path(f"/proc/{pid}").exists()
    with pytest.raises(pika.exceptions.AMQPConnectionError):
        _connect(rabbit.url)


def test_refuses_to_impersonate_the_shared_node() -> None:
    with pytest.raises(ValueError, match="shared node"):
        PrivateRabbitMQ(name=SHARED_NODE)
    with pytest.raises(ValueError, match="shared node"):
        PrivateRabbitMQ(name="rabbit")


def test_ports_are_distinct_and_data_dir_is_removed() -> None:
    rabbit = PrivateRabbitMQ()
    try:
        assert rabbit.port != rabbit.dist_port
        assert rabbit.data_dir.is_dir()
        assert not rabbit.is_running()
    finally:
        rabbit.cleanup()
    assert not rabbit.data_dir.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the node to the rabbitmq user")
def test_rejects_a_base_dir_the_service_user_cannot_enter(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    with pytest.raises(PermissionError, match="not traversable"):
        PrivateRabbitMQ(base_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []
