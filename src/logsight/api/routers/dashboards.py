"""Custom dashboards of a project: viewers read them, members create, change and delete them
(audited); widget data comes from GET .../dashboards/query."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, Field, ValidationError

from logsight.api.buckets import Buckets, BucketsPublic
from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.pagination import Page
from logsight.api.routers.events import (
    PROPERTY_FILTER_DOC,
    PROPERTY_PARAMETER,
    QUERY_RESPONSES,
    property_filters,
)
from logsight.api.routers.stats import ListParam
from logsight.dashboard_schema import (
    MAX_PROPERTY_FILTERS,
    MAX_TOP,
    DashboardDefinition,
    Dimension,
    RangePreset,
    Widget,
    WidgetMetric,
    WidgetQuery,
)
from logsight.errors import ApiError
from logsight.query import dashboards as dashboard_queries
from logsight.query import read_only, widgets
from logsight.tenancy import dashboards as dashboard_writes
from logsight.tenancy.access import Role, not_found

router = APIRouter(
    prefix="/projects/{project_id}/dashboards", tags=["dashboards"], responses=QUERY_RESPONSES
)


class DashboardPublic(BaseModel):
    id: UUID
    project_id: UUID
    name: str
    range: RangePreset = Field(description="The range the widgets show unless they set one.")
    widgets: list[Widget]
    version: int = Field(description="Raised by every change; PUT ?version= replaces only it.")
    created_by: UUID | None = Field(description="Null for the default dashboard.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DashboardPublic:
        return cls(range=row["time_range"], **{k: v for k, v in row.items() if k != "time_range"})


class WidgetSeries(BaseModel):
    key: str | None = Field(
        description="The group's value (null: events without one, or the other groups)."
    )
    other: bool = Field(description="True for the sum of every group outside the top N.")
    total: int = Field(
        description="Over the whole range: events, or distinct users (not a sum of buckets)."
    )
    values: list[int] = Field(description="One value per bucket, zeros included.")


class WidgetData(BucketsPublic):
    series: list[WidgetSeries]
    approximate: bool = Field(
        description="Unique users estimated with HyperLogLog (standard error 0.81%)."
    )
    source: Literal["rollups", "events"] = Field(
        description="rollups: per-minute summaries; events: counted from the events themselves "
        "(filters or groups on environment or a property)."
    )


def _definition_row(access: CurrentAccess, project_id: UUID, dashboard_id: UUID) -> Any:
    row = dashboard_queries.get(access.conn, project_id, dashboard_id)
    if row is None:
        raise not_found("dashboard", "dashboard_id")
    return row


@router.get("", response_model=Page[DashboardPublic], summary="A project's dashboards")
def list_dashboards(project_id: UUID, access: CurrentAccess) -> Page[DashboardPublic]:
    access.project(project_id)
    rows = dashboard_queries.list_for(access.conn, project_id)
    # At most MAX_DASHBOARDS: always one page.
    return Page[DashboardPublic](data=[DashboardPublic.from_row(r) for r in rows], next_cursor=None)


@router.post(
    "",
    response_model=DashboardPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create a dashboard (members)",
    description=f"A project holds at most {dashboard_writes.MAX_DASHBOARDS} dashboards (409 "
    "too_many_dashboards beyond).",
)
def create_dashboard(
    project_id: UUID, body: DashboardDefinition, access: CurrentAccess, ip: ClientIp
) -> DashboardPublic:
    project = access.project(project_id, need=Role.MEMBER)
    row = dashboard_writes.create(access.conn, project, body, actor=access.user_id, ip=ip)
    return DashboardPublic.from_row(row)


WIDGET_QUERY_DOC = (
    "Evaluates a widget's definition (as saved in a dashboard, spelled as query parameters) "
    "over [from, to): `from` defaults to `range` (else 24 hours) before `to` (default: now). "
    "Buckets are chosen and aligned as for the statistics time series (every bucket present, "
    "zeros included). Filters combine with AND and repeated values mean any of. With "
    "`group_by` (`group_property` names the key for `group_by=property`), the `top` groups get "
    'their own series and the rest are summed in one series with `"other": true`. '
    "Definitions that use only type, name, level and release are read from the rollups; "
    "environment and property filters or groups count the events themselves.\n\n"
    + PROPERTY_FILTER_DOC
)


@router.get(
    "/query",
    response_model=WidgetData,
    summary="A widget's data: its metric per bucket",
    description=WIDGET_QUERY_DOC,
    openapi_extra={"parameters": [PROPERTY_PARAMETER]},
)
def query_widget(
    project_id: UUID,
    request: Request,
    access: CurrentAccess,
    time: Buckets,
    *,
    metric: WidgetMetric = WidgetMetric.COUNT,
    group_by: Dimension | None = None,
    group_property: Annotated[
        str | None, Query(max_length=100, description="The property key, with group_by=property.")
    ] = None,
    top: Annotated[int, Query(ge=1, le=MAX_TOP)] = 5,
    type: ListParam = None,
    name: ListParam = None,
    level: ListParam = None,
    environment: ListParam = None,
    release: ListParam = None,
) -> WidgetData:
    access.project(project_id)
    properties = property_filters(request)
    if len(properties) > MAX_PROPERTY_FILTERS:
        raise ApiError(
            422, "invalid_field", f"at most {MAX_PROPERTY_FILTERS} property filters", "query.prop"
        )
    widget = _widget(
        {
            "metric": metric,
            "top": top,
            "group_by": {"by": group_by, "key": group_property} if group_by else None,
            "filters": {
                "type": type or [],
                "name": name or [],
                "level": level or [],
                "environment": environment or [],
                "release": release or [],
                "properties": [{"key": k, "values": v} for k, v in properties.items()],
            },
        },
        group_property,
    )
    with read_only(access.conn):
        result = widgets.evaluate(access.conn, project_id, time.edges, time.bucket, widget)
    return WidgetData(
        **time.public(),
        series=[
            WidgetSeries(key=s.key, other=s.other, total=s.total, values=s.values)
            for s in result.series
        ],
        approximate=result.approximate,
        source="rollups" if result.source == "rollups" else "events",
    )


# Where a fault in the widget's definition came from, as the client spelled it.
_QUERY_FIELDS = {
    "filters": "query",
    "group_by": "query.group_by",
    "top": "query.top",
    "metric": "query.metric",
}


def _widget(definition: dict[str, Any], group_property: str | None) -> WidgetQuery:
    if group_property is not None and definition["group_by"] is None:
        raise ApiError(
            422,
            "invalid_field",
            "group_property goes with group_by=property",
            "query.group_property",
        )
    try:
        return WidgetQuery.model_validate(definition)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(p) for p in first["loc"]]
        if loc[:1] == ["filters"] and len(loc) > 1:
            # filters.type.3 → query.type; filters.properties.0.values.0 → query.prop
            name = "prop" if loc[1] == "properties" else loc[1]
            field = f"query.{name}"
        elif loc[:1] == ["group_by"]:
            field = "query.group_property"
        else:
            field = _QUERY_FIELDS.get(loc[0] if loc else "", "query")
        raise ApiError(422, "invalid_field", str(first["msg"]), field) from exc


@router.get(
    "/{dashboard_id}", response_model=DashboardPublic, summary="One dashboard with its widgets"
)
def get_dashboard(project_id: UUID, dashboard_id: UUID, access: CurrentAccess) -> DashboardPublic:
    access.project(project_id)
    return DashboardPublic.from_row(_definition_row(access, project_id, dashboard_id))


@router.put(
    "/{dashboard_id}",
    response_model=DashboardPublic,
    summary="Replace a dashboard: name, range and widgets (members)",
)
def replace_dashboard(
    project_id: UUID,
    dashboard_id: UUID,
    body: DashboardDefinition,
    access: CurrentAccess,
    ip: ClientIp,
    version: Annotated[
        int | None,
        Query(
            ge=1,
            le=2**31 - 1,
            description="The version read: replace only if nobody changed it since (else 409 "
            "version_conflict). Without it the last write wins.",
        ),
    ] = None,
) -> DashboardPublic:
    project = access.project(project_id, need=Role.MEMBER)
    row = dashboard_writes.replace(
        access.conn, project, dashboard_id, body, actor=access.user_id, ip=ip, version=version
    )
    if row is None:
        raise not_found("dashboard", "dashboard_id")
    return DashboardPublic.from_row(row)


@router.delete(
    "/{dashboard_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a dashboard"
)
def delete_dashboard(
    project_id: UUID, dashboard_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    project = access.project(project_id, need=Role.MEMBER)
    if not dashboard_writes.delete(access.conn, project, dashboard_id, actor=access.user_id, ip=ip):
        raise not_found("dashboard", "dashboard_id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)
