"""The broker layout, declared idempotently: exchange → N shard quorum queues → DLX → DLQ.

The dead-letter queue must never drop a message: it is where messages that ran out of
deliveries wait until the processor can record them (and the database may be down for as long
as it takes). RabbitMQ 4.x gives every quorum queue a delivery limit of 20 unless one is set,
after which a dead-lettered message with nowhere further to go is deleted; on 3.x there is no
default limit. ``x-delivery-limit: -1``, 4.x's "no limit", is no answer for both: 3.x accepts
it and drops the message at its first return. So the queue is declared with the largest limit
the protocol's signed 32-bit integer carries, which means the same on every version: never.
A policy with a smaller ``delivery-limit`` applied to this queue would win (the broker takes
the smaller of the two), so none must be.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any
from uuid import UUID

import amqp

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect

log = logging.getLogger(__name__)

# 2**31 - 1 deliveries: at one every two minutes, thousands of years.
DEAD_LETTER_DELIVERY_LIMIT = 2**31 - 1


def shard_for(project_id: UUID, shards: int) -> int:
    """Stable across processes and releases: a project always lands on the same queue."""
    return zlib.crc32(project_id.bytes) % shards


def routing_key(shard: int) -> str:
    return f"shard.{shard}"


def shard_queue_arguments(settings: Settings) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": settings.delivery_limit,
        "x-dead-letter-exchange": settings.dead_letter_exchange,
        # at-least-once dead-lettering needs reject-publish overflow; it means a message is
        # never dropped on its way to the dead-letter queue.
        "x-dead-letter-strategy": "at-least-once",
        "x-overflow": "reject-publish",
    }


def dead_letter_queue_arguments() -> dict[str, Any]:
    return {"x-queue-type": "quorum", "x-delivery-limit": DEAD_LETTER_DELIVERY_LIMIT}


def declare_topology(connection: amqp.Connection, settings: Settings) -> list[str]:
    """Declare everything; returns the shard queue names. Safe to run any number of times."""
    channel = connection.channel()
    channel.exchange_declare(settings.exchange, "direct", durable=True, auto_delete=False)
    channel.exchange_declare(
        settings.dead_letter_exchange, "fanout", durable=True, auto_delete=False
    )
    channel = _declare_dead_letter_queue(connection, channel, settings.dead_letter_queue)
    channel.queue_bind(settings.dead_letter_queue, settings.dead_letter_exchange, "")
    queues = []
    for shard in range(settings.shards):
        name = settings.shard_queue(shard)
        channel.queue_declare(
            name, durable=True, auto_delete=False, arguments=shard_queue_arguments(settings)
        )
        channel.queue_bind(name, settings.exchange, routing_key(shard))
        queues.append(name)
    return queues


def _declare_dead_letter_queue(
    connection: amqp.Connection, channel: amqp.Channel, name: str
) -> amqp.Channel:
    """Declare the dead-letter queue; returns a channel that is still open.

    A queue declared by an earlier release has no delivery limit, and a declaration with other
    arguments fails (PRECONDITION_FAILED, which closes the channel). Such a queue is kept as it
    is: on RabbitMQ 3.x it has no limit anyway, and replacing it would mean deleting it, which
    a quorum queue allows only unconditionally (no if-empty), losing what it holds. Before the
    broker moves to 4.x it needs the policy docs/deploy.md gives.
    """
    try:
        channel.queue_declare(
            name, durable=True, auto_delete=False, arguments=dead_letter_queue_arguments()
        )
    except amqp.exceptions.PreconditionFailed:
        channel = connection.channel()
        channel.queue_declare(name, passive=True)
        version = connection.server_properties.get("version", b"")
        log.warning(
            "dead-letter queue %s was declared without a delivery limit by an earlier release;"
            " kept as it is (RabbitMQ %s). RabbitMQ 4.x would drop its messages after 20"
            " deliveries: before upgrading, give it the policy in docs/deploy.md",
            name,
            version.decode() if isinstance(version, bytes) else version,
        )
    return channel


def ensure_topology(settings: Settings) -> list[str]:
    connection = connect(
        settings.amqp_url,
        connect_timeout=settings.connect_timeout_seconds,
        heartbeat=0,
    )
    try:
        return declare_topology(connection, settings)
    finally:
        close_quietly(connection)
