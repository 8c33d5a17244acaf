"""Issues: errors grouped by fingerprint, with a resolve / ignore workflow."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, model_validator

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import (
    COUNT_ID,
    DEFAULT_LIMIT,
    TIME_ID,
    Limit,
    Page,
    decode_cursor,
    page,
)
from logsight.api.routers.events import EventPublic, EventSummary
from logsight.api.storable import BIGINT_MAX, Time
from logsight.processing.grouping import in_app_frames
from logsight.query import events as event_queries
from logsight.query import issues as issue_queries
from logsight.query.events import EventQuery
from logsight.query.issues import IssueFilters, IssueSort
from logsight.tenancy import issues as issue_workflow
from logsight.tenancy.access import not_found

router = APIRouter(
    prefix="/projects/{project_id}/issues", tags=["issues"], responses=ERROR_RESPONSES
)

TAG_SAMPLE = 1000
TOP_VALUES = 10


class IssueStatus(StrEnum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class IssuePublic(BaseModel):
    id: UUID
    project_id: UUID
    fingerprint: str
    title: str
    culprit: str | None
    error_type: str | None
    level: str
    first_seen: datetime
    last_seen: datetime
    events: int = Field(
        description="The issue's events still stored (retention removes older ones)."
    )
    users: int = Field(description="Distinct users affected, among the events still stored.")
    first_release: str | None
    last_release: str | None
    status: IssueStatus
    status_changed_at: datetime | None
    resolved_at: datetime | None
    ignore_until: datetime | None
    ignore_until_events: int | None
    regressed: bool = Field(description="A resolved issue received a new event.")
    regressed_at: datetime | None
    regression_event_id: UUID | None


class StackFrame(BaseModel):
    filename: str | None = None
    abs_path: str | None = None
    module: str | None = None
    function: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool = False
    context_line: str | None = None
    pre_context: list[str] = Field(default_factory=list)
    post_context: list[str] = Field(default_factory=list)
    vars: dict[str, Any] | None = None


class ExceptionPublic(BaseModel):
    type: str | None = None
    value: str | None = None
    module: str | None = None
    frames: list[StackFrame] = Field(
        default_factory=list, description="Outermost call first; the crash site last."
    )


class TagValue(BaseModel):
    value: str
    count: int


class TagDistribution(BaseModel):
    key: str
    total: int
    values: list[TagValue]


class TimePoint(BaseModel):
    bucket: datetime
    events: int


class IssueDetail(IssuePublic):
    latest_event: EventPublic | None
    exceptions: list[ExceptionPublic] = Field(
        description="The latest event's exception chain, the raised one last."
    )
    breadcrumbs: list[dict[str, Any]] = Field(description="The latest event's breadcrumbs.")
    tags: list[TagDistribution] = Field(
        description=f"Value distribution over the latest {TAG_SAMPLE} events."
    )
    events_24h: list[TimePoint] = Field(description="Hourly events over the last 24 hours.")
    events_30d: list[TimePoint] = Field(description="Daily events over the last 30 days.")


class IssueStatusUpdate(BaseModel):
    status: IssueStatus
    ignore_until: Time | None = Field(
        default=None, description="With status=ignored: reopen after this moment."
    )
    ignore_count: int | None = Field(
        default=None,
        ge=1,
        le=BIGINT_MAX,
        description="With status=ignored: reopen after this many more events.",
    )

    @model_validator(mode="after")
    def _ignore_options_need_ignored(self) -> IssueStatusUpdate:
        if self.status is not IssueStatus.IGNORED and (self.ignore_until or self.ignore_count):
            raise ValueError("ignore_until and ignore_count go with status=ignored")
        return self


class IssueBulkUpdate(IssueStatusUpdate):
    ids: list[UUID] = Field(min_length=1, max_length=500)


class IssueBulkResult(BaseModel):
    updated: int
    ids: list[UUID]


@router.get("", response_model=Page[IssuePublic], summary="List a project's issues")
def list_issues(
    project_id: UUID,
    access: CurrentAccess,
    status: IssueStatus | None = IssueStatus.UNRESOLVED,
    level: str | None = None,
    release: Annotated[str | None, Query(description="Issues with events in this release.")] = None,
    environment: Annotated[
        str | None, Query(description="Issues with events in this environment.")
    ] = None,
    query: Annotated[
        str | None, Query(max_length=200, description="Text in the title or culprit.")
    ] = None,
    sort: IssueSort = IssueSort.LAST_SEEN,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[IssuePublic]:
    access.project(project_id)
    filters = IssueFilters(
        status=status.value if status is not None else None,
        level=level,
        release=release,
        environment=environment,
        text=query,
    )
    # A cursor holds the sort column's value: a cursor of another sort is refused.
    after = decode_cursor(cursor, TIME_ID) if sort.by_time else decode_cursor(cursor, COUNT_ID)
    rows, following = issue_queries.search(
        access.conn, project_id, filters, sort, limit=limit, after=after
    )
    return page([IssuePublic(**r) for r in rows], following)


def _issue(access: CurrentAccess, project_id: UUID, issue_id: UUID) -> dict[str, Any]:
    row = issue_queries.get(access.conn, project_id, issue_id)
    if row is None:
        raise not_found("issue")
    return row


def _event_row(row: dict[str, Any]) -> EventPublic:
    return EventPublic(id=row["event_id"], **{k: v for k, v in row.items() if k != "event_id"})


def _exceptions(error: dict[str, Any] | None) -> list[ExceptionPublic]:
    if not error:
        return []
    result = []
    for exc in [*(error.get("chain") or []), error]:
        app_frames = {id(frame) for frame in in_app_frames(exc)}
        frames = [
            StackFrame(
                **{
                    k: v for k, v in frame.items() if k in StackFrame.model_fields and k != "in_app"
                },
                # Frames are marked the way grouping sees them (all, when none is marked).
                in_app=id(frame) in app_frames,
            )
            for frame in (exc.get("stacktrace") or {}).get("frames") or []
            if isinstance(frame, dict)
        ]
        result.append(
            ExceptionPublic(
                type=exc.get("type"),
                value=exc.get("value"),
                module=exc.get("module"),
                frames=frames,
            )
        )
    return result


def _series(
    access: CurrentAccess, project_id: UUID, fingerprint: str, step: timedelta, count: int
) -> list[TimePoint]:
    return [
        TimePoint(bucket=bucket, events=events)
        for bucket, events in issue_queries.activity(
            access.conn, project_id, fingerprint, step, count
        )
    ]


def _tags(access: CurrentAccess, project_id: UUID, fingerprint: str) -> list[TagDistribution]:
    return [
        TagDistribution(
            key=key,
            total=total,
            values=[TagValue(value=value, count=n) for value, n in values],
        )
        for key, total, values in issue_queries.tags(
            access.conn, project_id, fingerprint, sample=TAG_SAMPLE, top=TOP_VALUES
        )
    ]


@router.get("/{issue_id}", response_model=IssueDetail, summary="One issue in full")
def get_issue(project_id: UUID, issue_id: UUID, access: CurrentAccess) -> IssueDetail:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    latest = issue_queries.latest_event(access.conn, project_id, issue["fingerprint"])
    event = _event_row(latest) if latest else None
    return IssueDetail(
        **issue,
        latest_event=event,
        exceptions=_exceptions(event.error if event else None),
        breadcrumbs=(event.breadcrumbs or []) if event else [],
        tags=_tags(access, project_id, issue["fingerprint"]),
        events_24h=_series(access, project_id, issue["fingerprint"], timedelta(hours=1), 24),
        events_30d=_series(access, project_id, issue["fingerprint"], timedelta(days=1), 30),
    )


@router.get(
    "/{issue_id}/events", response_model=Page[EventSummary], summary="The events of an issue"
)
def issue_events(
    project_id: UUID,
    issue_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventSummary]:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    rows, following = event_queries.search(
        access.conn,
        project_id,
        EventQuery(fingerprint=issue["fingerprint"]),
        limit=limit,
        after=decode_cursor(cursor, TIME_ID),
    )
    return page([EventSummary.from_row(r) for r in rows], following)


@router.get(
    "/{issue_id}/events/{event_id}", response_model=EventPublic, summary="Any event of an issue"
)
def issue_event(
    project_id: UUID, issue_id: UUID, event_id: UUID, access: CurrentAccess
) -> EventPublic:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    row = event_queries.get(access.conn, project_id, event_id, fingerprint=issue["fingerprint"])
    if row is None:
        raise not_found("event")
    return _event_row(row)


def _apply_status(
    access: CurrentAccess,
    project_id: UUID,
    ids: list[UUID],
    update: IssueStatusUpdate,
    ip: str | None,
) -> list[UUID]:
    return issue_workflow.set_status(
        access,
        project_id,
        ids,
        update.status.value,
        ignore_until=update.ignore_until,
        ignore_count=update.ignore_count,
        ip=ip,
    )


@router.patch("/{issue_id}", response_model=IssuePublic, summary="Resolve, ignore or reopen")
def update_issue(
    project_id: UUID,
    issue_id: UUID,
    body: IssueStatusUpdate,
    access: CurrentAccess,
    ip: ClientIp,
) -> IssuePublic:
    if not _apply_status(access, project_id, [issue_id], body, ip):
        raise not_found("issue")
    return IssuePublic(**_issue(access, project_id, issue_id))


@router.post("/bulk", response_model=IssueBulkResult, summary="Change the status of many issues")
def bulk_update(
    project_id: UUID, body: IssueBulkUpdate, access: CurrentAccess, ip: ClientIp
) -> IssueBulkResult:
    updated = _apply_status(access, project_id, body.ids, body, ip)
    return IssueBulkResult(updated=len(updated), ids=updated)
