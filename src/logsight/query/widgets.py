"""Evaluating a dashboard widget: its metric per bucket, zero-filled, optionally grouped.

A widget whose filters and grouping use only the rollups' dimensions (type, name, level,
release) is answered by the statistics code from the rollups (``logsight.query.stats``), as
the overview is; unique users there are exact for minute buckets and estimated (HyperLogLog)
beyond. Filters or groups on environment or a property need the events themselves: those are
counted from ``events`` over the range (exact, bounded by the query's statement timeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import psycopg
from psycopg import sql

from logsight.dashboard_schema import Dimension, WidgetGroupBy, WidgetMetric, WidgetQuery
from logsight.query import stats
from logsight.query.events import EventQuery, conditions
from logsight.query.stats import Filters, GroupBy, Metric, Series
from logsight.query.timerange import Bucket

ROLLUP_DIMENSIONS = {Dimension.TYPE, Dimension.NAME, Dimension.LEVEL, Dimension.RELEASE}


@dataclass(frozen=True, slots=True)
class WidgetResult:
    series: list[Series]
    approximate: bool
    source: str  # "rollups" or "events"


def from_rollups(widget: WidgetQuery) -> bool:
    f = widget.filters
    if f.environment or f.properties:
        return False
    if widget.group_by is not None and widget.group_by.by not in ROLLUP_DIMENSIONS:
        return False
    if widget.metric is WidgetMetric.USERS:
        # The user rollups have no dimensions.
        return widget.group_by is None and not (f.type or f.name or f.level or f.release)
    return True


def evaluate(
    conn: psycopg.Connection,
    project_id: UUID,
    edges: list[datetime],
    bucket: Bucket,
    widget: WidgetQuery,
) -> WidgetResult:
    """The widget's values for each bucket [edges[i], edges[i+1]); every series' total is the
    metric over the whole range (for users: distinct users, not a sum of buckets)."""
    if from_rollups(widget):
        return _rollups(conn, project_id, edges, bucket, widget)
    return _events(conn, project_id, edges, widget)


def _rollups(
    conn: psycopg.Connection,
    project_id: UUID,
    edges: list[datetime],
    bucket: Bucket,
    widget: WidgetQuery,
) -> WidgetResult:
    f = widget.filters
    metric = Metric.USERS if widget.metric is WidgetMetric.USERS else Metric.COUNT
    result = stats.timeseries(
        conn,
        project_id,
        edges,
        bucket=bucket,
        metric=metric,
        group_by=GroupBy(widget.group_by.by.value) if widget.group_by else None,
        top=widget.top,
        filters=Filters(f.type, f.name, f.level, f.release),
    )
    series = result.series
    approximate = result.approximate
    if metric is Metric.USERS:
        users, approximate_total = stats.unique_users(conn, project_id, edges[0], edges[-1])
        series = [Series(s.key, s.other, users, s.values) for s in series]
        approximate = approximate or approximate_total
    return WidgetResult(series, approximate, "rollups")


def _key(group_by: WidgetGroupBy | None) -> sql.Composable:
    """The group's value as text; '' for events without one (as the rollups spell it)."""
    if group_by is None:
        return sql.SQL("''")
    if group_by.by is Dimension.PROPERTY:
        return sql.SQL("coalesce(properties ->> {}, '')").format(sql.Literal(group_by.key))
    return sql.SQL("coalesce({}, '')").format(sql.Identifier(group_by.by.value))


def _events(
    conn: psycopg.Connection, project_id: UUID, edges: list[datetime], widget: WidgetQuery
) -> WidgetResult:
    f = widget.filters
    where = conditions(
        project_id,
        EventQuery(
            start=edges[0],
            end=edges[-1],
            type=f.type,
            name=f.name,
            level=f.level,
            properties={p.key: p.values for p in f.properties},
        ),
    )
    for column in ("environment", "release"):
        accepted = getattr(f, column)
        if accepted:
            where.append(
                sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(accepted))
            )
    users = widget.metric is WidgetMetric.USERS
    if users:
        where.append(sql.SQL("user_id IS NOT NULL"))
    value = sql.SQL("count(DISTINCT user_id)" if users else "count(*)")
    key = _key(widget.group_by)
    n = len(edges) - 1
    # One pass: per bucket and group, plus each group's total over the range (grouping sets),
    # over the top groups by total; the rest are one "other" group.
    query = sql.SQL(
        "WITH e AS (SELECT width_bucket(timestamp, {edges}::timestamptz[]) AS i, {key} AS key,"
        " user_id FROM events WHERE {where}),"
        " top AS (SELECT key FROM e GROUP BY key ORDER BY {value} DESC, key LIMIT {top}),"
        " g AS (SELECT e.i, t.key, t.key IS NULL AS other, e.user_id"
        " FROM e LEFT JOIN top t ON t.key = e.key)"
        " SELECT i, key, other, {value}::bigint FROM g GROUP BY GROUPING SETS ((i, key, other),"
        " (key, other))"
    ).format(
        edges=sql.Literal(edges),
        key=key,
        where=sql.SQL(" AND ").join(where),
        value=value,
        top=sql.Literal(widget.top if widget.group_by else 1),
    )
    values: dict[tuple[str | None, bool], list[int]] = {}
    totals: dict[tuple[str | None, bool], int] = {}
    for i, group, other, count in conn.execute(query).fetchall():
        slot = (group, bool(other))
        values.setdefault(slot, [0] * n)
        if i is None:
            totals[slot] = int(count)
        elif 1 <= i <= n:
            values[slot][i - 1] += int(count)

    if widget.group_by is None:
        slot = ("", False)
        return WidgetResult(
            [Series("total", False, totals.get(slot, 0), values.get(slot, [0] * n))],
            False,
            "events",
        )
    named = sorted(
        ((k, v) for k, v in values.items() if not k[1]), key=lambda kv: (-totals[kv[0]], kv[0][0])
    )
    series = [Series(k[0] or None, False, totals[k], v) for k, v in named]
    rest = (None, True)
    if rest in values:
        series.append(Series(None, True, totals[rest], values[rest]))
    return WidgetResult(series, False, "events")
