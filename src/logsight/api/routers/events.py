"""Events: search a project's events and read one in full."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess
from logsight.api.errors import ERROR_RESPONSES, ErrorResponse
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.query import events as event_queries
from logsight.query import read_only
from logsight.tenancy.access import not_found

QUERY_RESPONSES: dict[int | str, dict[str, Any]] = ERROR_RESPONSES | {
    503: {"model": ErrorResponse, "description": "The query took too long (query_timeout)"}
}

router = APIRouter(
    prefix="/projects/{project_id}/events", tags=["events"], responses=QUERY_RESPONSES
)

PROPERTY_FILTER_DOC = """\
Property equality filters. Write `prop.<key>=<value>` (or the equivalent `prop[<key>]=<value>`)
for each top-level key of the event's `properties`; the value is compared with the property's
JSON value as text, so `prop.plan=pro`, `prop.seats=5` and `prop.trial=true` match the string
"pro", the number 5 and the boolean true. Repeating a key means any of its values
(`prop.plan=pro&prop.plan=team`); different keys must all match."""

# What property_filters reads, declared for the OpenAPI document (FastAPI cannot).
PROPERTY_PARAMETER: dict[str, Any] = {
    "name": "prop",
    "in": "query",
    "required": False,
    "style": "deepObject",
    "explode": True,
    "description": PROPERTY_FILTER_DOC,
    "schema": {"type": "object", "additionalProperties": {"type": "string"}},
}

_PROP = re.compile(r"^prop(?:\.(?P<dotted>.+)|\[(?P<bracketed>[^\]]+)\])$")
MAX_PROPERTY_FILTERS = 20


class EventSummary(BaseModel):
    id: UUID = Field(description="The event id (client-made, or made at ingest).")
    timestamp: datetime = Field(description="When it happened (client time, clamped at ingest).")
    received_at: datetime = Field(description="When LogSight accepted it.")
    type: str
    name: str
    level: str
    message: str | None = None
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    environment: str | None = None
    fingerprint: str | None = None
    browser: str | None = None
    os: str | None = None
    device: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> EventSummary:
        return cls(id=row["event_id"], **{k: v for k, v in row.items() if k != "event_id"})


class EventPublic(EventSummary):
    context: dict[str, Any] | None = Field(
        default=None, description="url, referrer, user agent, locale, …"
    )
    user_traits: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    sdk: dict[str, Any] | None = None
    meta: dict[str, Any] | None = Field(
        default=None, description="What ingest changed (trimmed strings, original timestamp)."
    )
    breadcrumbs: list[dict[str, Any]] | None = Field(
        default=None, description="What happened before the event, oldest first."
    )
    culprit: str | None = Field(default=None, description="Errors: where it broke.")


def utc(value: datetime | None) -> datetime | None:
    """Times without an offset are read as UTC."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def property_filters(request: Request) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        match = _PROP.match(key)
        if match:
            name = match["dotted"] or match["bracketed"]
            found.setdefault(name, []).append(value)
    if len(found) > MAX_PROPERTY_FILTERS:
        raise ApiError(
            422, "invalid_field", f"at most {MAX_PROPERTY_FILTERS} property filters", "query.prop"
        )
    return found


ListParam = Annotated[list[str] | None, Query()]


@router.get(
    "",
    response_model=Page[EventSummary],
    summary="Search events, newest first",
    description=(
        "Filters combine with AND; repeated `type`, `name` and `level` mean any of. `q` finds "
        "a case-insensitive substring of the name or the message. Times are ISO 8601 "
        "(without an offset: UTC); `from` is inclusive, `to` exclusive.\n\n"
        + PROPERTY_FILTER_DOC
        + "\n\nPages follow (timestamp, id) downwards: a page boundary does not move when "
        "new events arrive."
    ),
    openapi_extra={"parameters": [PROPERTY_PARAMETER]},
)
def list_events(
    project_id: UUID,
    request: Request,
    access: CurrentAccess,
    *,
    from_: Annotated[Time | None, Query(alias="from")] = None,
    to: Time | None = None,
    type: ListParam = None,
    name: ListParam = None,
    level: ListParam = None,
    user_id: str | None = None,
    session_id: str | None = None,
    release: str | None = None,
    environment: str | None = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=200, description="Substring of name or message."),
    ] = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventSummary]:
    access.project(project_id)
    start, end = utc(from_), utc(to)
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid_field", "'to' must be after 'from'", "query.to")
    query = event_queries.EventQuery(
        start=start,
        end=end,
        type=type or [],
        name=name or [],
        level=level or [],
        user_id=user_id,
        session_id=session_id,
        release=release,
        environment=environment,
        properties=property_filters(request),
        text=q,
    )
    after = decode_cursor(cursor, TIME_ID)
    with read_only(access.conn):
        rows, following = event_queries.search(
            access.conn, project_id, query, limit=limit, after=after
        )
    return page([EventSummary.from_row(row) for row in rows], following)


@router.get("/{event_id}", response_model=EventPublic, summary="One event with every field")
def get_event(
    project_id: UUID,
    event_id: UUID,
    access: CurrentAccess,
    timestamp: Annotated[
        Time | None,
        Query(
            description="The event's timestamp, from a search result: makes the look-up cheaper."
        ),
    ] = None,
) -> EventPublic:
    access.project(project_id)
    with read_only(access.conn):
        row = event_queries.get(access.conn, project_id, event_id, utc(timestamp))
    if row is None:
        raise not_found("event", "event_id")
    return EventPublic(id=row["event_id"], **{k: v for k, v in row.items() if k != "event_id"})
