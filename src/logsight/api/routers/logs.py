"""Logs: search a project's log lines, read one in full, count them over time, tail them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Self
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess
from logsight.api.pagination import (
    DEFAULT_LIMIT,
    TIME,
    TIME_ID,
    Limit,
    Page,
    decode_cursor,
    encode_cursor,
    page,
)
from logsight.api.routers.events import QUERY_RESPONSES, utc
from logsight.api.routers.live import MAX_LIVE_EVENTS
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.query import logs as log_queries
from logsight.query import read_only
from logsight.tenancy.access import not_found

router = APIRouter(prefix="/projects/{project_id}/logs", tags=["logs"], responses=QUERY_RESPONSES)

QUERY_DOC = """\
`q` holds terms separated by spaces (double quotes keep spaces in one term). `key:value` filters
a column — `service`, `level`, `environment`, `release`, `logger`, `trace_id`, `span_id` — or
else an attribute, compared with its JSON value as text (`http.status:500`, `user.id:42`);
repeating a key means any of its values. Every other term must occur in the body
(case-insensitive substring). All terms must match:
`level:error service:checkout "card declined"`."""

INTERVALS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}
MAX_COUNT_BUCKETS = 1500
DEFAULT_COUNT_RANGE = timedelta(hours=24)


class LogSummary(BaseModel):
    id: UUID
    timestamp: datetime = Field(description="The record's time (else the observed time).")
    received_at: datetime
    level: str
    severity_number: int | None = None
    severity_text: str | None = None
    service: str | None = None
    environment: str | None = None
    release: str | None = None
    logger: str = Field(description="The instrumentation scope or logger name.")
    body: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Self:
        return cls(id=row["log_id"], **{k: v for k, v in row.items() if k != "log_id"})


class LogPublic(LogSummary):
    observed_at: datetime | None = None
    body_json: Any = Field(default=None, description="The body when it is not a string.")
    resource: dict[str, Any] | None = None
    scope: dict[str, Any] | None = None


class LogCount(BaseModel):
    bucket: datetime
    value: str = Field(description="The level or service ('' for lines without a service).")
    lines: int


class LogTail(BaseModel):
    from_: datetime = Field(alias="from", description="Window start (exclusive).")
    to: datetime = Field(description="Window end (inclusive): what the next cursor continues from.")
    lines: list[LogSummary] = Field(description="Newest first, at most `limit`.")
    total: int = Field(description="Matching lines in the window, also those not listed.")
    truncated: bool
    cursor: str = Field(description="Pass as `cursor` in the next poll.")

    model_config = {"populate_by_name": True}


def _range(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    start, end = utc(start), utc(end)
    if start is not None and end is not None and end <= start:
        raise ApiError(422, "invalid_field", "'to' must be after 'from'", "query.to")
    return start, end


QueryText = Annotated[str | None, Query(max_length=1000, description=QUERY_DOC)]


@router.get(
    "",
    response_model=Page[LogSummary],
    summary="Search log lines, newest first",
    description=QUERY_DOC
    + "\n\nTimes are ISO 8601 (without an offset: UTC); `from` is inclusive, `to` exclusive. "
    "Pages follow (timestamp, id) downwards.",
)
def list_logs(
    project_id: UUID,
    access: CurrentAccess,
    *,
    q: QueryText = None,
    from_: Annotated[Time | None, Query(alias="from")] = None,
    to: Time | None = None,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[LogSummary]:
    access.project(project_id)
    query = log_queries.parse(q, *_range(from_, to))
    after = decode_cursor(cursor, TIME_ID)
    with read_only(access.conn):
        rows, following = log_queries.search(
            access.conn, project_id, query, limit=limit, after=after
        )
    return page([LogSummary.from_row(row) for row in rows], following)


@router.get(
    "/counts",
    response_model=list[LogCount],
    summary="Lines over time by level or service",
    description="From the per-minute rollups; buckets without lines are left out.",
)
def count_logs(
    project_id: UUID,
    access: CurrentAccess,
    *,
    from_: Annotated[Time | None, Query(alias="from", description="Default: `to` - 24 h.")] = None,
    to: Annotated[Time | None, Query(description="Default: now.")] = None,
    by: Literal["level", "service"] = "level",
    interval: Literal["minute", "hour", "day"] = "hour",
) -> list[LogCount]:
    access.project(project_id)
    until = utc(to) or datetime.now(UTC)
    start, end = _range(from_ or until - DEFAULT_COUNT_RANGE, until)
    assert start is not None
    assert end is not None
    step = INTERVALS[interval]
    if (end - start) / step > MAX_COUNT_BUCKETS:
        raise ApiError(
            422,
            "invalid_field",
            f"at most {MAX_COUNT_BUCKETS} {interval}s: shorten the range or widen the interval",
            "query.interval",
        )
    with read_only(access.conn):
        rows = log_queries.counts(
            access.conn, project_id, by=by, start=start, end=end, interval=step
        )
    return [LogCount(**row) for row in rows]


@router.get(
    "/tail",
    response_model=LogTail,
    summary="Lines that arrived since the cursor (live tail)",
    description=(
        "The event live feed's contract: poll every few seconds with the returned `cursor`; "
        "windows are on the time LogSight accepted the lines, tile without gaps or overlaps and "
        "close one second behind now; without a cursor (or with one older than 5 minutes) the "
        "window starts 5 minutes back. `q` filters as in search."
    ),
)
def tail_logs(
    project_id: UUID,
    access: CurrentAccess,
    q: QueryText = None,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIVE_EVENTS)] = 50,
) -> LogTail:
    access.project(project_id)
    query = log_queries.parse(q)
    after = decode_cursor(cursor, TIME)
    with read_only(access.conn):
        window = log_queries.tail(
            access.conn, project_id, query, after[0] if after else None, limit=limit
        )
    return LogTail(
        from_=window.start,
        to=window.end,
        lines=[LogSummary.from_row(row) for row in window.lines],
        total=window.total,
        truncated=window.truncated,
        cursor=encode_cursor([window.end.isoformat()]),
    )


@router.get("/{log_id}", response_model=LogPublic, summary="One log line with every field")
def get_log(
    project_id: UUID,
    log_id: UUID,
    access: CurrentAccess,
    timestamp: Annotated[
        Time | None, Query(description="The line's timestamp, from a search result.")
    ] = None,
) -> LogPublic:
    access.project(project_id)
    with read_only(access.conn):
        row = log_queries.get(access.conn, project_id, log_id, utc(timestamp))
    if row is None:
        raise not_found("log line", "log_id")
    return LogPublic.from_row(row)
