"""The live view: new events and counters since the last poll (no WebSockets needed)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess
from logsight.api.pagination import TIME, decode_cursor, encode_cursor
from logsight.api.routers.events import QUERY_RESPONSES, EventSummary
from logsight.query import live as live_queries
from logsight.query import read_only

router = APIRouter(prefix="/projects/{project_id}/live", tags=["live"], responses=QUERY_RESPONSES)

MAX_LIVE_EVENTS = 200


class LiveCounts(BaseModel):
    events: int
    errors: int = Field(description="Events of type error or level error/fatal.")
    users: int = Field(description="Distinct users among the window's events.")
    by_type: dict[str, int]


class LivePublic(BaseModel):
    from_: datetime = Field(alias="from", description="Window start (exclusive).")
    to: datetime = Field(description="Window end (inclusive): what the next cursor continues from.")
    events: list[EventSummary] = Field(description="Newest first, at most `limit`.")
    counts: LiveCounts = Field(description="Every event in the window, also those not listed.")
    truncated: bool = Field(description="More events arrived than are listed.")
    cursor: str = Field(description="Pass as `cursor` in the next poll.")

    model_config = {"populate_by_name": True}


@router.get(
    "",
    response_model=LivePublic,
    summary="What arrived since the cursor",
    description=(
        "Poll every few seconds with the returned `cursor`. Windows are on the time LogSight "
        "accepted events (client clocks may be late), tile without gaps or overlaps, and close "
        "one second behind now so that events still being written are not skipped. Without a "
        "cursor (or with one older than 5 minutes) the window starts 5 minutes back. Events "
        "whose own timestamp is more than a day older than their arrival are not shown here "
        "(search finds them)."
    ),
)
def live(
    project_id: UUID,
    access: CurrentAccess,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=0, le=MAX_LIVE_EVENTS)] = 50,
) -> LivePublic:
    access.project(project_id)
    after = decode_cursor(cursor, TIME)
    with read_only(access.conn):
        window = live_queries.poll(
            access.conn, project_id, after[0] if after else None, limit=limit
        )
    return LivePublic(
        from_=window.start,
        to=window.end,
        events=[EventSummary.from_row(row) for row in window.events],
        counts=LiveCounts(
            events=window.total, errors=window.errors, users=window.users, by_type=window.by_type
        ),
        truncated=window.truncated,
        cursor=encode_cursor([window.end.isoformat()]),
    )
