"""Statistics: time series and summaries from the rollups."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess
from logsight.api.routers.events import QUERY_RESPONSES
from logsight.api.storable import Time
from logsight.errors import ApiError
from logsight.query import outcomes as outcome_queries
from logsight.query import read_only
from logsight.query import stats as stat_queries
from logsight.query.stats import Filters, GroupBy, Metric
from logsight.query.timerange import (
    Bucket,
    bucket_edges,
    choose_bucket,
    minute_range,
    request_range,
    zone,
)

router = APIRouter(prefix="/projects/{project_id}/stats", tags=["stats"], responses=QUERY_RESPONSES)

MAX_TOP = 20

TimeParam = Annotated[
    Time | None,
    Query(description="ISO 8601; without an offset it is read in `tz`."),
]
ListParam = Annotated[list[str] | None, Query()]
FromParam = Annotated[
    Time | None, Query(alias="from", description="Default: 24 hours before `to`.")
]
TzParam = Annotated[
    str, Query(max_length=64, description="IANA time zone for times without an offset.")
]


class SeriesPublic(BaseModel):
    key: str | None = Field(
        description="The group's value (null: events without a release, or the other groups)."
    )
    other: bool = Field(description="True for the sum of every group outside the top N.")
    total: int | None = Field(description="Sum over the range (null for unique users).")
    values: list[int] = Field(description="One value per bucket, zeros included.")


class TimeseriesPublic(BaseModel):
    bucket: Bucket
    tz: str
    metric: Metric
    group_by: GroupBy | None
    from_: datetime = Field(alias="from", description="Start of the first bucket.")
    to: datetime = Field(description="End of the last bucket.")
    buckets: list[datetime] = Field(description="Start of each bucket, in `tz`.")
    series: list[SeriesPublic]
    approximate: bool = Field(
        description="Unique users estimated with HyperLogLog (standard error 0.81%)."
    )

    model_config = {"populate_by_name": True}


class TotalsPublic(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    events: int
    errors: int = Field(description="Events of type error or level error/fatal.")
    error_rate: float | None = Field(description="errors / events; null without events.")
    unique_users: int
    unique_users_approximate: bool

    model_config = {"populate_by_name": True}


class TopEventPublic(BaseModel):
    type: str
    name: str
    events: int


class TopPagePublic(BaseModel):
    path: str = Field(description="The URL path of page views (context.url).")
    views: int


class ChangePublic(BaseModel):
    events: float | None = Field(description="Relative change: 0.25 is 25% more.")
    errors: float | None
    error_rate: float | None
    unique_users: float | None


class SummaryPublic(TotalsPublic):
    top_events: list[TopEventPublic]
    top_pages: list[TopPagePublic]
    previous: TotalsPublic = Field(description="The period of equal length just before.")
    change: ChangePublic = Field(description="Null where the previous period had none.")


class OutcomePublic(BaseModel):
    outcome: str = Field(
        description="rate_limited (refused by a quota: 429), client_discarded (dropped by the "
        "client, from Sentry client reports), skipped (accepted, not stored), invalid."
    )
    category: str = Field(description="Data category: event, or Sentry's (error, log_item, ...).")
    reason: str = Field(description="For rate_limited: the quota that was used up.")
    quantity: int


class OutcomesPublic(BaseModel):
    from_: datetime = Field(alias="from")
    to: datetime
    data: list[OutcomePublic]

    model_config = {"populate_by_name": True}


@router.get(
    "/timeseries",
    response_model=TimeseriesPublic,
    summary="Events or unique users per bucket",
    description=(
        "Buckets are aligned in `tz` (an IANA name): hour buckets start on local hours and day "
        "buckets are local calendar days (23 or 25 hours when the clocks change). Without "
        "`bucket`, the finest of 1m, 5m, 1h, 1d giving at most 200 buckets is used; an explicit "
        "bucket may give up to 1500. Every bucket is present (zeros included). With "
        "`group_by`, the `top` groups by total get their own series and the rest are summed in "
        'one series with `"other": true`. Unique users (`metric=users`) are exact for minute '
        "buckets and estimated (HyperLogLog, standard error 0.81%) for hour and day buckets; "
        "they cannot be grouped or filtered."
    ),
)
def timeseries(
    project_id: UUID,
    access: CurrentAccess,
    *,
    from_: FromParam = None,
    to: TimeParam = None,
    bucket: Bucket | None = None,
    metric: Metric = Metric.COUNT,
    group_by: GroupBy | None = None,
    top: Annotated[int, Query(ge=1, le=MAX_TOP)] = 5,
    tz: Annotated[str, Query(max_length=64, description="IANA time zone.")] = "UTC",
    type: ListParam = None,
    name: ListParam = None,
    level: ListParam = None,
    release: ListParam = None,
) -> TimeseriesPublic:
    access.project(project_id)
    zone_info = zone(tz)
    start, end = request_range(from_, to, zone_info)
    filters = Filters(type or [], name or [], level or [], release or [])
    if metric is Metric.USERS and (group_by is not None or filters):
        raise ApiError(
            422,
            "invalid_field",
            "unique users cannot be grouped or filtered",
            "query.group_by" if group_by is not None else "query.metric",
        )
    chosen = bucket or choose_bucket(start, end)
    edges = bucket_edges(start, end, chosen, zone_info)
    with read_only(access.conn):
        result = stat_queries.timeseries(
            access.conn,
            project_id,
            edges,
            bucket=chosen,
            metric=metric,
            group_by=group_by,
            top=top,
            filters=filters,
        )
    return TimeseriesPublic(
        bucket=chosen,
        tz=tz,
        metric=metric,
        group_by=group_by,
        from_=edges[0].astimezone(zone_info),
        to=edges[-1].astimezone(zone_info),
        buckets=[edge.astimezone(zone_info) for edge in edges[:-1]],
        series=[
            SeriesPublic(
                key=s.key, other=s.other, total=s.total if s.total >= 0 else None, values=s.values
            )
            for s in result.series
        ],
        approximate=result.approximate,
    )


def _totals(totals: stat_queries.Totals) -> TotalsPublic:
    return TotalsPublic(
        from_=totals.start,
        to=totals.end,
        events=totals.events,
        errors=totals.errors,
        error_rate=totals.error_rate,
        unique_users=totals.unique_users,
        unique_users_approximate=totals.unique_users_approximate,
    )


@router.get(
    "/summary",
    response_model=SummaryPublic,
    summary="Totals, error rate, unique users, top events and pages, and the trend",
    description=(
        "For [from, to) widened to whole minutes (default: the last 24 hours), compared with "
        "the period of equal length just before. Unique users are exact for ranges up to 6 "
        "hours and estimated (HyperLogLog, standard error 0.81%) beyond."
    ),
)
def summary(
    project_id: UUID,
    access: CurrentAccess,
    *,
    from_: FromParam = None,
    to: TimeParam = None,
    tz: TzParam = "UTC",
) -> SummaryPublic:
    access.project(project_id)
    start, end = minute_range(*request_range(from_, to, zone(tz)))
    with read_only(access.conn):
        result = stat_queries.summary(access.conn, project_id, start, end)
    current, previous = result.current, result.previous
    change = stat_queries.change
    return SummaryPublic(
        **_totals(current).model_dump(),
        top_events=[
            TopEventPublic(type=t.type, name=t.name, events=t.events) for t in result.top_events
        ],
        top_pages=[TopPagePublic(path=p.path, views=p.views) for p in result.top_pages],
        previous=_totals(previous),
        change=ChangePublic(
            events=change(current.events, previous.events),
            errors=change(current.errors, previous.errors),
            error_rate=change(current.error_rate, previous.error_rate),
            unique_users=change(current.unique_users, previous.unique_users),
        ),
    )


@router.get(
    "/outcomes",
    response_model=OutcomesPublic,
    summary="What was refused, dropped or not stored, by outcome, category and reason",
    description=(
        "Totals over [from, to) (default: the last 24 hours) by the time requests were "
        "received. Requests refused by a quota are counted per minute by ingest and written "
        "within about a second."
    ),
)
def outcomes(
    project_id: UUID,
    access: CurrentAccess,
    *,
    from_: FromParam = None,
    to: TimeParam = None,
    tz: TzParam = "UTC",
) -> OutcomesPublic:
    access.project(project_id)
    start, end = request_range(from_, to, zone(tz))
    with read_only(access.conn):
        rows = outcome_queries.totals(access.conn, project_id, start, end)
    return OutcomesPublic(
        from_=start,
        to=end,
        data=[
            OutcomePublic(
                outcome=r.outcome, category=r.category, reason=r.reason, quantity=r.quantity
            )
            for r in rows
        ],
    )
