"""The impact of an issue on the product: who it reached, and whether sessions that met it
still reached a chosen event (definitions in logsight.query.impact)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess
from logsight.api.routers.events import QUERY_RESPONSES
from logsight.api.routers.stats import FromParam, TimeParam, TzParam
from logsight.dashboard_schema import RangePreset
from logsight.query import impact as impact_queries
from logsight.query import issues as issue_queries
from logsight.query import read_only
from logsight.query import stats as stat_queries
from logsight.query.timerange import minute_range, request_range, zone
from logsight.tenancy.access import not_found

router = APIRouter(
    prefix="/projects/{project_id}/issues/{issue_id}/impact",
    tags=["issues"],
    responses=QUERY_RESPONSES,
)


class SessionGroup(BaseModel):
    sessions: int
    reached: int = Field(description="Of them, sessions with the chosen event.")
    share: float | None = Field(description="reached / sessions; null without sessions.")


class EventReach(BaseModel):
    event: str = Field(description="The event name asked about.")
    with_error: SessionGroup = Field(description="Sessions that met the issue.")
    without_error: SessionGroup = Field(description="Every other session of the range.")
    difference: float | None = Field(
        description="with_error.share - without_error.share: -0.2 is 20 points fewer sessions "
        "reaching the event when the error happened; null when either share is."
    )


class IssueImpact(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    events: int = Field(description="The issue's events in the range.")
    users: int = Field(description="Distinct users who met the issue.")
    sessions: int = Field(description="Distinct sessions that met the issue.")
    active_users: int = Field(description="Users active in the range, for comparison.")
    active_users_approximate: bool = Field(
        description="active_users estimated with HyperLogLog (ranges over 6 hours)."
    )
    active_sessions: int = Field(description="Sessions in the range (events with a session id).")
    reach: EventReach | None = Field(description="With `event`: the sessions compared.")

    model_config = {"populate_by_name": True}


def _group(sessions: int, reached: int) -> SessionGroup:
    return SessionGroup(
        sessions=sessions, reached=reached, share=reached / sessions if sessions else None
    )


@router.get(
    "",
    response_model=IssueImpact,
    summary="Users and sessions an issue reached, and its effect on an event",
    description=(
        "Over [from, to) (whole minutes; `from` defaults to `range`, else 24 hours, before "
        "`to`, default now). A session is a distinct session id (the browser snippet gives "
        "each tab one; events without one, as Sentry SDKs send them, count towards users "
        "only). With `event`, the sessions of the range are split into those that met the "
        "issue and the others, and for each the share that has an event of that name within "
        "the range (in either order) is given."
    ),
)
def issue_impact(
    project_id: UUID,
    issue_id: UUID,
    access: CurrentAccess,
    *,
    event: Annotated[
        str | None,
        Query(min_length=1, max_length=256, description="An event name: checkout_completed."),
    ] = None,
    from_: FromParam = None,
    to: TimeParam = None,
    range: RangePreset | None = None,
    tz: TzParam = "UTC",
) -> IssueImpact:
    access.project(project_id)
    issue = issue_queries.get(access.conn, project_id, issue_id)
    if issue is None:
        raise not_found("issue", "issue_id")
    fingerprint = issue["fingerprint"]
    default = (range or RangePreset.DAY).length
    start, end = minute_range(*request_range(from_, to, zone(tz), default))
    with read_only(access.conn):
        reach = impact_queries.issue_reach(access.conn, project_id, fingerprint, start, end)
        split = impact_queries.session_split(
            access.conn, project_id, fingerprint, event, start, end
        )
        active_users, approximate = stat_queries.unique_users(access.conn, project_id, start, end)
    event_reach = None
    if event is not None:
        with_error = _group(split.with_error, split.reached_with_error)
        without_error = _group(
            split.sessions - split.with_error, split.reached - split.reached_with_error
        )
        event_reach = EventReach(
            event=event,
            with_error=with_error,
            without_error=without_error,
            difference=(
                with_error.share - without_error.share
                if with_error.share is not None and without_error.share is not None
                else None
            ),
        )
    return IssueImpact(
        from_=start,
        to=end,
        events=reach.events,
        users=reach.users,
        sessions=reach.sessions,
        active_users=active_users,
        active_users_approximate=approximate,
        active_sessions=split.sessions,
        reach=event_reach,
    )
