"""A decoded queue message → the rows it becomes (enriched, fingerprinted)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from logsight.event import NormalizedEvent
from logsight.processing.grouping import culprit, fingerprint
from logsight.processing.user_agent import Client, parse_user_agent
from logsight.queue.message import EventMessage, MessageError
from logsight.storage.writer import EventRow, json_column, optional_json_column

_NO_CLIENT = Client(None, None, None)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


# The project's privacy rules (logsight.privacy), applied before anything else reads the event.
Scrub = Callable[[dict[str, Any]], dict[str, Any]]


def event_row(
    message: EventMessage, event: NormalizedEvent, scrub: Scrub | None = None
) -> EventRow:
    if scrub is not None:
        event = scrub(event)  # type: ignore[assignment,arg-type]
    context = event.get("context") or None
    user_agent = context.get("user_agent") if isinstance(context, dict) else None
    client = (
        parse_user_agent(user_agent) if isinstance(user_agent, str) and user_agent else _NO_CLIENT
    )
    meta = event.get("meta") or None
    timestamp = datetime.fromisoformat(event["timestamp"])
    if timestamp.tzinfo is None:
        raise ValueError("timestamp has no time zone")
    return EventRow(
        project_id=message.project_id,
        event_id=UUID(event["event_id"]),
        timestamp=timestamp,
        received_at=message.received_at,
        type=str(event["type"]),
        name=str(event["name"]),
        level=str(event["level"]),
        message=_text(event.get("message")),
        user_id=_text(event.get("user_id")),
        session_id=_text(event.get("session_id")),
        release=_text(event.get("release")),
        environment=_text(event.get("environment")),
        fingerprint=fingerprint(event),
        browser=client.browser,
        os=client.os,
        device=client.device,
        properties=json_column(event.get("properties") or {}),
        context=optional_json_column(context),
        user_traits=optional_json_column(event.get("user") or None),
        error=optional_json_column(event.get("error") or None),
        sdk=optional_json_column(event.get("sdk") or None),
        meta=optional_json_column(meta),
        breadcrumbs=optional_json_column(event.get("breadcrumbs") or None),
        culprit=culprit(event) if event.get("type") == "error" else None,
        clamped=isinstance(meta, dict | list) and "original_timestamp" in meta,
    )


def message_rows(message: EventMessage, scrub: Scrub | None = None) -> list[EventRow]:
    try:
        return [event_row(message, event, scrub) for event in message.events]
    except (KeyError, ValueError, TypeError, AttributeError) as exc:
        raise MessageError(f"invalid event in message: {exc!r}") from exc
