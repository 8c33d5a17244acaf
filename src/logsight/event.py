"""The event's one shape on its way through LogSight.

``NormalizedEvent`` is what ingest queues after normalization (``logsight.ingest.normalize``),
one per event in a message's ``events`` (``logsight.queue.message``), and what the processor
turns into a row (``logsight.processing.rows``): JSON on the wire, a typed dict in the code.

``EVENT_COLUMNS`` is the ``events`` table as the code writes and reads it, in one place: the
writer copies ``COLUMNS`` (``logsight.storage.writer.EventRow`` has one field per column, in
this order), searches return ``LIST_COLUMNS`` and one event ``DETAIL_COLUMNS``
(``logsight.query``). A column added to the table is added here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict


class NormalizedEvent(TypedDict):
    event_id: str  # a UUID's text: the client's, or made at ingest
    type: str
    name: str
    timestamp: str  # ISO 8601 with its offset, clamped at ingest
    level: str
    message: str | None
    properties: dict[str, Any]
    user: dict[str, Any] | None
    user_id: str | None
    session_id: str | None
    context: dict[str, Any] | None
    release: str | None
    environment: str | None
    error: dict[str, Any] | None
    sdk: dict[str, Any] | None
    fingerprint: list[str] | None  # the client's grouping, if it chose one
    breadcrumbs: list[dict[str, Any]] | None
    meta: dict[str, Any]  # what ingest changed: trimmed strings, the original timestamp


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    # Stored as jsonb (written as JSON text).
    json: bool = False
    # In search results; one event's detail has every column but the project.
    listed: bool = False


EVENT_COLUMNS: tuple[Column, ...] = (
    Column("project_id"),
    Column("event_id", listed=True),
    Column("timestamp", listed=True),
    Column("received_at", listed=True),
    Column("type", listed=True),
    Column("name", listed=True),
    Column("level", listed=True),
    Column("message", listed=True),
    Column("user_id", listed=True),
    Column("session_id", listed=True),
    Column("release", listed=True),
    Column("environment", listed=True),
    Column("fingerprint", listed=True),
    Column("browser", listed=True),
    Column("os", listed=True),
    Column("device", listed=True),
    Column("properties", json=True, listed=True),
    Column("context", json=True),
    Column("user_traits", json=True),
    Column("error", json=True),
    Column("sdk", json=True),
    Column("meta", json=True),
    Column("breadcrumbs", json=True),
    Column("culprit"),
)
COLUMNS = tuple(column.name for column in EVENT_COLUMNS)
JSON_COLUMNS = frozenset(column.name for column in EVENT_COLUMNS if column.json)
LIST_COLUMNS = tuple(column.name for column in EVENT_COLUMNS if column.listed)
DETAIL_COLUMNS = tuple(column.name for column in EVENT_COLUMNS if column.name != "project_id")
