"""Issues: errors grouped by fingerprint, with a resolve / ignore workflow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from psycopg import sql
from psycopg.rows import dict_row
from pydantic import BaseModel, Field, model_validator

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, decode_cursor, encode_cursor
from logsight.api.routers.events import EventPublic, EventSummary
from logsight.processing.grouping import in_app_frames
from logsight.query import events as event_queries
from logsight.tenancy import audit
from logsight.tenancy.access import Role, not_found

router = APIRouter(
    prefix="/projects/{project_id}/issues", tags=["issues"], responses=ERROR_RESPONSES
)

EVENT_COLUMNS = ", ".join(event_queries.DETAIL_COLUMNS)
TAG_SAMPLE = 1000
TOP_VALUES = 10
BUILT_IN_TAGS = ("level", "release", "environment", "browser", "os", "device")


class IssueStatus(StrEnum):
    UNRESOLVED = "unresolved"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class IssueSort(StrEnum):
    LAST_SEEN = "last_seen"
    FIRST_SEEN = "first_seen"
    EVENTS = "events"
    USERS = "users"


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
    events: int
    users: int = Field(description="Distinct users affected.")
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
    ignore_until: datetime | None = Field(
        default=None, description="With status=ignored: reopen after this moment."
    )
    ignore_count: int | None = Field(
        default=None, ge=1, description="With status=ignored: reopen after this many more events."
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


_ISSUE_COLUMNS = (
    "id, project_id, fingerprint, title, culprit, error_type, level, first_seen, last_seen,"
    " events, users, first_release, last_release, status, status_changed_at, resolved_at,"
    " ignore_until, ignore_until_events, regressed, regressed_at, regression_event_id"
)
_SORT_COLUMNS = {
    IssueSort.LAST_SEEN: "last_seen",
    IssueSort.FIRST_SEEN: "first_seen",
    IssueSort.EVENTS: "events",
    IssueSort.USERS: "users",
}


def _cursor_value(sort: IssueSort, value: Any) -> Any:
    if sort in (IssueSort.LAST_SEEN, IssueSort.FIRST_SEEN):
        return datetime.fromisoformat(value)
    return int(value)


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
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[IssuePublic]:
    access.project(project_id)
    column = sql.Identifier(_SORT_COLUMNS[sort])
    where: list[sql.Composable] = [sql.SQL("project_id = {}").format(sql.Literal(project_id))]
    if status is not None:
        where.append(sql.SQL("status = {}").format(sql.Literal(status.value)))
    if level:
        where.append(sql.SQL("level = {}").format(sql.Literal(level)))
    if query:
        pattern = "%" + query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        where.append(
            sql.SQL("(title ILIKE {p} OR culprit ILIKE {p})").format(p=sql.Literal(pattern))
        )
    for name, value in (("release", release), ("environment", environment)):
        if value:
            where.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM events e WHERE e.project_id = issues.project_id"
                    " AND e.fingerprint = issues.fingerprint AND e.{} = {})"
                ).format(sql.Identifier(name), sql.Literal(value))
            )
    after = decode_cursor(cursor, 2)
    if after is not None:
        where.append(
            sql.SQL("({}, id) < ({}, {})").format(
                column, sql.Literal(_cursor_value(sort, after[0])), sql.Literal(UUID(after[1]))
            )
        )
    statement = sql.SQL(
        "SELECT {cols} FROM issues WHERE {where} ORDER BY {col} DESC, id DESC LIMIT {limit}"
    ).format(
        cols=sql.SQL(_ISSUE_COLUMNS),
        where=sql.SQL(" AND ").join(where),
        col=column,
        limit=sql.Literal(limit + 1),
    )
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement).fetchall()
    page = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        value = last[_SORT_COLUMNS[sort]]
        next_cursor = encode_cursor(
            [value.isoformat() if isinstance(value, datetime) else value, str(last["id"])]
        )
    return Page[IssuePublic](data=[IssuePublic(**r) for r in page], next_cursor=next_cursor)


def _issue(access: CurrentAccess, project_id: UUID, issue_id: UUID) -> dict[str, Any]:
    with access.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            sql.SQL("SELECT {} FROM issues WHERE id = %s AND project_id = %s").format(
                sql.SQL(_ISSUE_COLUMNS)
            ),
            (issue_id, project_id),
        ).fetchone()
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
    now = datetime.now(UTC)
    origin = datetime(2000, 1, 1, tzinfo=UTC)
    end = origin + ((now - origin) // step) * step
    start = end - step * (count - 1)
    rows = access.conn.execute(
        "SELECT date_bin(%s, timestamp, %s) AS bucket, count(*) FROM events"
        " WHERE project_id = %s AND fingerprint = %s AND timestamp >= %s"
        " GROUP BY 1",
        (step, origin, project_id, fingerprint, start),
    ).fetchall()
    counts: dict[datetime, int] = {bucket: int(n) for bucket, n in rows}
    return [
        TimePoint(bucket=start + step * i, events=int(counts.get(start + step * i, 0)))
        for i in range(count)
    ]


def _tags(access: CurrentAccess, project_id: UUID, fingerprint: str) -> list[TagDistribution]:
    built_in = ", ".join(f"('{t}', {t})" for t in BUILT_IN_TAGS)
    rows = access.conn.execute(
        f"""
        WITH recent AS (
            SELECT * FROM events WHERE project_id = %s AND fingerprint = %s
            ORDER BY timestamp DESC LIMIT {TAG_SAMPLE}
        ),
        pairs AS (
            SELECT t.key, t.value FROM recent,
                LATERAL (VALUES {built_in}) AS t(key, value) WHERE t.value IS NOT NULL
            UNION ALL
            SELECT p.key, p.value FROM recent, LATERAL jsonb_each_text(recent.properties) AS p
            WHERE jsonb_typeof(recent.properties -> p.key) IN ('string', 'number', 'boolean')
        ),
        counted AS (
            SELECT key, value, count(*) AS n,
                   sum(count(*)) OVER (PARTITION BY key) AS total,
                   row_number() OVER (PARTITION BY key ORDER BY count(*) DESC, value) AS rank
            FROM pairs GROUP BY key, value
        )
        SELECT key, total, value, n FROM counted WHERE rank <= {TOP_VALUES}
        ORDER BY total DESC, key, n DESC, value
        """,
        (project_id, fingerprint),
    ).fetchall()
    distributions: dict[str, TagDistribution] = {}
    for key, total, value, n in rows:
        entry = distributions.setdefault(key, TagDistribution(key=key, total=int(total), values=[]))
        entry.values.append(TagValue(value=value, count=int(n)))
    return list(distributions.values())


@router.get("/{issue_id}", response_model=IssueDetail, summary="One issue in full")
def get_issue(project_id: UUID, issue_id: UUID, access: CurrentAccess) -> IssueDetail:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    with access.conn.cursor(row_factory=dict_row) as cur:
        latest = cur.execute(
            f"SELECT {EVENT_COLUMNS} FROM events WHERE project_id = %s AND fingerprint = %s"
            " ORDER BY timestamp DESC, event_id DESC LIMIT 1",
            (project_id, issue["fingerprint"]),
        ).fetchone()
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
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventSummary]:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    after = decode_cursor(cursor, 2)
    bound: sql.Composable = sql.SQL("")
    if after is not None:
        bound = sql.SQL(" AND (timestamp, event_id) < ({}, {})").format(
            sql.Literal(datetime.fromisoformat(after[0])), sql.Literal(UUID(after[1]))
        )
    statement = sql.SQL(
        "SELECT event_id, timestamp, received_at, type, name, level, message, user_id,"
        " session_id, release, environment, fingerprint, browser, os, device, properties"
        " FROM events WHERE project_id = {} AND fingerprint = {}{}"
        " ORDER BY timestamp DESC, event_id DESC LIMIT {}"
    ).format(
        sql.Literal(project_id), sql.Literal(issue["fingerprint"]), bound, sql.Literal(limit + 1)
    )
    with access.conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(statement).fetchall()
    page = rows[:limit]
    next_cursor = (
        encode_cursor([page[-1]["timestamp"].isoformat(), str(page[-1]["event_id"])])
        if len(rows) > limit
        else None
    )
    return Page[EventSummary](
        data=[EventSummary.from_row(r) for r in page], next_cursor=next_cursor
    )


@router.get(
    "/{issue_id}/events/{event_id}", response_model=EventPublic, summary="Any event of an issue"
)
def issue_event(
    project_id: UUID, issue_id: UUID, event_id: UUID, access: CurrentAccess
) -> EventPublic:
    access.project(project_id)
    issue = _issue(access, project_id, issue_id)
    with access.conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {EVENT_COLUMNS} FROM events"
            " WHERE project_id = %s AND fingerprint = %s AND event_id = %s LIMIT 1",
            (project_id, issue["fingerprint"], event_id),
        ).fetchone()
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
    project = access.project(project_id, need=Role.MEMBER)
    status = update.status.value
    with access.conn.transaction():
        rows = access.conn.execute(
            """
            UPDATE issues SET
                status = %(status)s,
                status_changed_at = now(),
                status_changed_by = %(user)s,
                resolved_at = CASE WHEN %(status)s = 'resolved' THEN now() END,
                regressed = CASE WHEN %(status)s = 'resolved' THEN false ELSE regressed END,
                ignore_until = CASE WHEN %(status)s = 'ignored' THEN %(until)s::timestamptz END,
                ignore_until_events = CASE WHEN %(status)s = 'ignored' AND %(count)s::bigint
                    IS NOT NULL THEN events + %(count)s::bigint END
            WHERE project_id = %(project)s AND id = ANY(%(ids)s)
            RETURNING id
            """,
            {
                "status": status,
                "user": access.user_id,
                "until": update.ignore_until,
                "count": update.ignore_count,
                "project": project_id,
                "ids": ids,
            },
        ).fetchall()
        updated = [row[0] for row in rows]
        if updated:
            audit.record(
                access.conn,
                f"issue.{status}",
                organization_id=project["organization_id"],
                actor_user_id=access.user_id,
                target_type="issue",
                target_id=updated[0] if len(updated) == 1 else None,
                ip=ip,
                details={"issues": [str(i) for i in updated], "project_id": str(project_id)},
            )
    return updated


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
