"""Amazon MQ (``aws:rmq``) events → queue records, using Powertools' event data class."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.data_classes.rabbit_mq_event import RabbitMQEvent


@dataclass(frozen=True, slots=True)
class QueueRecord:
    """One message of the batch. Its body stays in the event's base64 text until asked for:
    the processor decodes one message at a time, so a batch is never held twice over."""

    queue: str
    vhost: str
    data: str  # base64, as the event carries it
    message_id: str | None = None
    redelivered: bool = False
    headers: dict[str, Any] = field(default_factory=dict)

    @property
    def raw(self) -> bytes:
        return base64.b64decode(self.data)

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
                    data=message.data,
                    message_id=properties.get("messageId"),
                    redelivered=bool(message.get("redelivered", False)),
                    headers=properties.get("headers") or {},
                )
            )
    return records
