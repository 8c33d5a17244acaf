"""The one message ingest publishes per request, and its decoding in the processor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast
from uuid import UUID

import orjson

from logsight.event import NormalizedEvent

SCHEMA_VERSION = 1
SCHEMA_HEADER = "x-logsight-schema"
CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class EventMessage:
    project_id: UUID
    received_at: datetime
    request_id: str
    events: list[NormalizedEvent]
    source: str = "native"
    # Counts of what the client dropped or we accepted without storing (Sentry protocol).
    outcomes: list[dict[str, Any]] = field(default_factory=list)

    def encode(self) -> bytes:
        body: dict[str, Any] = {
            "v": SCHEMA_VERSION,
            "project_id": str(self.project_id),
            "received_at": self.received_at.isoformat(),
            "request_id": self.request_id,
            "source": self.source,
            "events": self.events,
        }
        if self.outcomes:
            body["outcomes"] = self.outcomes
        return orjson.dumps(body)


class MessageError(ValueError):
    """The message can never be processed: it belongs in the dead letters."""


def decode(body: bytes) -> EventMessage:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MessageError(f"body is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise MessageError("body is not a JSON object")
    version = data.get("v")
    if version != SCHEMA_VERSION:
        raise MessageError(f"unsupported schema version {version!r}")
    try:
        events = data["events"]
        if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
            raise MessageError("events must be a list of objects")
        outcomes = data.get("outcomes", [])
        if not isinstance(outcomes, list) or not all(isinstance(o, dict) for o in outcomes):
            raise MessageError("outcomes must be a list of objects")
        return EventMessage(
            project_id=UUID(data["project_id"]),
            received_at=datetime.fromisoformat(data["received_at"]),
            request_id=str(data.get("request_id", "")),
            # Objects, not yet checked field by field: turning each into a row does that
            # (logsight.processing.rows), and a message with a bad one is a dead letter.
            events=cast(list[NormalizedEvent], events),
            source=str(data.get("source", "native")),
            outcomes=outcomes,
        )
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, MessageError):
            raise
        raise MessageError(f"malformed message: {exc!r}") from exc
