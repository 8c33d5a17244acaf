"""Amazon MQ (``aws:rmq``) events → queue records, using Powertools' event data class."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes.rabbit_mq_event import RabbitMQEvent


@dataclass(frozen=True, slots=True)
class QueueRecord:
    queue: str
    vhost: str
    raw: bytes
    message_id: str | None = None
    redelivered: bool = False
    headers: dict[str, Any] = field(default_factory=dict)

    def header_text(self, name: str) -> str | None:
        return header_text(self.headers.get(name))


def header_text(value: Any) -> str | None:
    """Amazon MQ renders string headers as ``{"bytes": [...]}``; plain values pass through."""
    if value is None:
        return None
    if isinstance(value, dict) and isinstance(value.get("bytes"), list):
        return bytes(value["bytes"]).decode("utf-8", "replace")
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def records_from_event(event: dict[str, Any]) -> list[QueueRecord]:
    parsed = RabbitMQEvent(event)
    records: list[QueueRecord] = []
    for queue_key, messages in parsed.rmq_messages_by_queue.items():
        queue, _, vhost = queue_key.partition("::")
        for message in messages:
            properties = message.get("basicProperties") or {}
            records.append(
                QueueRecord(
                    queue=queue,
                    vhost=vhost or "/",
                    raw=base64.b64decode(message.data),
                    message_id=properties.get("messageId"),
                    redelivered=bool(message.get("redelivered", False)),
                    headers=properties.get("headers") or {},
                )
            )
    return records
