"""The broker layout, declared idempotently: exchange → N shard quorum queues → DLX → DLQ."""

from __future__ import annotations

import zlib
from typing import Any
from uuid import UUID

import amqp

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect


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


def declare_topology(channel: amqp.Channel, settings: Settings) -> list[str]:
    """Declare everything; returns the shard queue names. Safe to run any number of times."""
    channel.exchange_declare(settings.exchange, "direct", durable=True, auto_delete=False)
    channel.exchange_declare(
        settings.dead_letter_exchange, "fanout", durable=True, auto_delete=False
    )
    channel.queue_declare(
        settings.dead_letter_queue,
        durable=True,
        auto_delete=False,
        arguments={"x-queue-type": "quorum"},
    )
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


def ensure_topology(settings: Settings) -> list[str]:
    connection = connect(
        settings.amqp_url,
        connect_timeout=settings.connect_timeout_seconds,
        heartbeat=0,
    )
    try:
        channel = connection.channel()
        return declare_topology(channel, settings)
    finally:
        close_quietly(connection)
