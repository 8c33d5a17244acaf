"""Broker topology, shard routing and the confirmed publisher against real RabbitMQ."""

from __future__ import annotations

import logging
import time
import uuid

import amqp
import pytest

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect
from logsight.queue.message import MessageError, decode
from logsight.queue.publisher import Publisher, UnroutableError
from logsight.queue.topology import ensure_topology, routing_key, shard_for
from tests.conftest import create_vhost, delete_vhost, drain, list_queues


def test_shards_are_stable_and_spread() -> None:
    project = uuid.UUID("2f1b6f0e-7d0a-4c3e-9d55-0f3c1b2a4d5e")
    assert shard_for(project, 2) == shard_for(uuid.UUID(str(project)), 2)
    # A fixed value: routing must not change between releases or processes.
    assert [shard_for(project, n) for n in (1, 2, 3, 8)] == [0, 1, 2, 5]
    counts = [0, 0, 0, 0]
    for _ in range(4000):
        counts[shard_for(uuid.uuid4(), 4)] += 1
    assert min(counts) > 800


def test_topology_is_declared_idempotently_as_quorum_queues() -> None:
    url = create_vhost()
    try:
        settings = Settings(amqp_url=url, shards=3, delivery_limit=4)
        assert ensure_topology(settings) == [f"logsight.events.{n}" for n in range(3)]
        assert ensure_topology(settings) == [f"logsight.events.{n}" for n in range(3)]
        lines = list_queues(url, "type", "durable", "arguments")
        assert set(lines) == {
            "logsight.events.0",
            "logsight.events.1",
            "logsight.events.2",
            "logsight.events.dead",
        }
        for name, (kind, durable, arguments) in lines.items():
            assert (kind, durable) == ("quorum", "true"), name
            if name != "logsight.events.dead":
                assert "x-delivery-limit" in arguments and "logsight.events.dlx" in arguments
    finally:
        delete_vhost(url)


def queue_arguments(url: str) -> dict[str, str]:
    return {name: arguments for name, (arguments,) in list_queues(url, "arguments").items()}


def get_one(channel: amqp.Channel, queue: str) -> amqp.Message:
    """The next ready message (a requeued one takes a moment to be ready again)."""
    deadline = time.monotonic() + 5
    while (message := channel.basic_get(queue)) is None:
        assert time.monotonic() < deadline, f"nothing in {queue}"
        time.sleep(0.02)
    return message


def test_the_dead_letter_queue_never_drops_a_message() -> None:
    url = create_vhost()
    connection = None
    try:
        settings = Settings(amqp_url=url, delivery_limit=2)
        ensure_topology(settings)
        # An explicit limit, not the broker's default (20 on RabbitMQ 4.x), and not -1, which
        # RabbitMQ 3.x takes to mean "drop at the first return".
        assert '{"x-delivery-limit",2147483647}' in queue_arguments(url)[settings.dead_letter_queue]
        connection = connect(url, connect_timeout=3, heartbeat=0)
        channel = connection.channel()
        channel.basic_publish(
            amqp.Message(b"kept", delivery_mode=2), exchange=settings.dead_letter_exchange
        )
        # A processor that cannot record it (database down) returns it again and again: far
        # more often than the shard queues' limit, or 4.x's default.
        for _ in range(30):
            channel.basic_reject(get_one(channel, settings.dead_letter_queue).delivery_tag, True)
        kept = get_one(channel, settings.dead_letter_queue)
        assert bytes(kept.body) == b"kept"
        channel.basic_ack(kept.delivery_tag)
    finally:
        if connection is not None:
            close_quietly(connection)
        delete_vhost(url)


def test_a_dead_letter_queue_of_an_earlier_release_is_kept_with_its_messages(
    caplog: pytest.LogCaptureFixture,
) -> None:
    url = create_vhost()
    connection = None
    try:
        settings = Settings(amqp_url=url)
        connection = connect(url, connect_timeout=3, heartbeat=0)
        channel = connection.channel()
        channel.queue_declare(
            settings.dead_letter_queue,
            durable=True,
            auto_delete=False,
            arguments={"x-queue-type": "quorum"},
        )
        channel.basic_publish(
            amqp.Message(b"waiting", delivery_mode=2), routing_key=settings.dead_letter_queue
        )
        # Declaring it with other arguments would fail; deleting it would lose what it holds.
        with caplog.at_level(logging.WARNING, logger="logsight.queue.topology"):
            assert ensure_topology(settings) == ["logsight.events.0", "logsight.events.1"]
        assert "docs/deploy.md" in caplog.text
        assert "x-delivery-limit" not in queue_arguments(url)[settings.dead_letter_queue]
        waiting = get_one(channel, settings.dead_letter_queue)
        assert bytes(waiting.body) == b"waiting"
        channel.basic_ack(waiting.delivery_tag)
        # It is still where dead letters go.
        channel.basic_publish(amqp.Message(b"new"), exchange=settings.dead_letter_exchange)
        new = get_one(channel, settings.dead_letter_queue)
        assert bytes(new.body) == b"new"
        channel.basic_ack(new.delivery_tag)
    finally:
        if connection is not None:
            close_quietly(connection)
        delete_vhost(url)


def test_publisher_confirms_and_routes_by_shard(settings: Settings, broker: amqp.Channel) -> None:
    publisher = Publisher(settings)
    queue = settings.shard_queue(1)
    drain(broker, queue)
    publisher.publish(b'{"v": 1}', routing_key=routing_key(1), message_id="m1", headers={"h": 1})
    publisher.publish(b'{"v": 1}', routing_key=routing_key(1), message_id="m2", headers={})
    messages = drain(broker, queue)
    assert [m.properties["message_id"] for m in messages] == ["m1", "m2"]
    assert all(m.properties["delivery_mode"] == 2 for m in messages)
    with pytest.raises(UnroutableError):
        publisher.publish(b"{}", routing_key="shard.999", message_id="m3", headers={})
    # The connection survives an unroutable message.
    publisher.publish(b"{}", routing_key=routing_key(1), message_id="m4", headers={})
    assert [m.properties["message_id"] for m in drain(broker, queue)] == ["m4"]
    publisher.close()


def test_publisher_reconnects_after_its_connection_is_closed(
    settings: Settings, broker: amqp.Channel
) -> None:
    publisher = Publisher(settings)
    queue = settings.shard_queue(0)
    drain(broker, queue)
    publisher.publish(b"{}", routing_key=routing_key(0), message_id="a", headers={})
    # The broker side goes away (a restart, an idle timeout): the next publish reconnects.
    assert publisher._connection is not None
    publisher._connection.transport.sock.close()
    publisher.publish(b"{}", routing_key=routing_key(0), message_id="b", headers={})
    assert [m.properties["message_id"] for m in drain(broker, queue)] == ["a", "b"]
    publisher.close()


@pytest.mark.parametrize(
    "body",
    [
        b"[]",
        b'{"v": 1}',
        b'{"v": 1, "project_id": "x", "received_at": "now", "events": []}',
        b'{"v": 1, "project_id": "2f1b6f0e-7d0a-4c3e-9d55-0f3c1b2a4d5e", "received_at": "2026-01-01T00:00:00+00:00", "events": [1]}',
    ],
)
def test_malformed_messages_are_message_errors(body: bytes) -> None:
    with pytest.raises(MessageError):
        decode(body)
