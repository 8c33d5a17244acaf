"""Building Amazon MQ (aws:rmq) events the way AWS documents them, from our own messages."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from logsight.ingest.normalize import Limits, normalize_event
from logsight.queue.message import EventMessage

AWS_EXAMPLE = json.loads(
    (Path(__file__).resolve().parents[1] / "fixtures" / "rmq_event_aws.json").read_text()
)
LIMITS = Limits(1024 * 1024, 32, 256, 8192, timedelta(days=30), timedelta(seconds=60))


def message(
    project_id: UUID, *events: dict[str, Any], received_at: datetime | None = None
) -> bytes:
    received = received_at or datetime.now(UTC)
    normalized = [normalize_event(e, received_at=received, limits=LIMITS) for e in events]
    return EventMessage(project_id, received, str(uuid.uuid4()), normalized).encode()


def rmq_event(
    queue: str,
    bodies: list[bytes],
    *,
    vhost: str = "/",
    headers: dict[str, Any] | None = None,
    redelivered: bool = False,
) -> dict[str, Any]:
    """The documented example event with our queue and bodies swapped in."""
    event = copy.deepcopy(AWS_EXAMPLE)
    template = event["rmqMessagesByQueue"].pop("pizzaQueue::/")[0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["data"] = base64.b64encode(body).decode()
        record["basicProperties"]["bodySize"] = len(body)
        record["basicProperties"]["contentType"] = "application/json"
        record["basicProperties"]["headers"] = headers or {}
        record["basicProperties"]["messageId"] = str(uuid.uuid4())
        record["redelivered"] = redelivered
        records.append(record)
    event["rmqMessagesByQueue"][f"{queue}::{vhost}"] = records
    return event
