"""Time series and summaries from the rollups.

Counts come from ``event_rollups_1h`` where every edge is on a UTC hour and from
``event_rollups_1m`` otherwise (and for the minutes at the ends of a summary range). Unique
users are exact (``user_rollups_1m``) for minute buckets and short ranges, and otherwise a
HyperLogLog estimate merged from hourly and daily sketches (standard error 0.81%).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

import psycopg
from psycopg import sql

from logsight.query import hll
from logsight.query.timerange import (
    DAY,
    HOUR,
    Bucket,
    Cover,
    aligned,
    cover,
)

Interval = tuple[datetime, datetime]

# Counted as errors for the error rate.
ERRORISH = sql.SQL("(type = 'error' OR level IN ('error', 'fatal'))")
# Ranges up to this long get exact unique users from the minute sets.
EXACT_USERS_UP_TO = timedelta(hours=6)
TOP_EVENTS = 10
TOP_PAGES = 10


class Metric(StrEnum):
    COUNT = "count"
    USERS = "users"


class GroupBy(StrEnum):
    TYPE = "type"
    NAME = "name"
    LEVEL = "level"
    RELEASE = "release"


@dataclass(frozen=True, slots=True)
class Filters:
    """Equality filters on rollup dimensions; each list means "any of"."""

    type: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    release: list[str] = field(default_factory=list)

    def sql(self) -> sql.Composable:
        parts: list[sql.Composable] = []
        for column in ("type", "name", "level", "release"):
            values = getattr(self, column)
            if values:
                parts.append(
                    sql.SQL(" AND {} = ANY({})").format(
                        sql.Identifier(column), sql.Literal(list(values))
                    )
                )
        return sql.Composed(parts)

    def __bool__(self) -> bool:
        return bool(self.type or self.name or self.level or self.release)


@dataclass(frozen=True, slots=True)
class Series:
    key: str | None
    other: bool
    total: int
    values: list[int]


@dataclass(frozen=True, slots=True)
class Timeseries:
    edges: list[datetime]
    series: list[Series]
    approximate: bool
    source: str


def _edges_literal(edges: list[datetime]) -> sql.Composable:
    return sql.SQL("{}::timestamptz[]").format(sql.Literal(edges))


def timeseries(
    conn: psycopg.Connection,
    project_id: UUID,
    edges: list[datetime],
    *,
    bucket: Bucket,
    metric: Metric = Metric.COUNT,
    group_by: GroupBy | None = None,
    top: int = 5,
    filters: Filters | None = None,
) -> Timeseries:
    """Values for each bucket [edges[i], edges[i+1]), zero-filled."""
    filters = filters or Filters()
    n = len(edges) - 1
    if metric is Metric.USERS:
        return _users_timeseries(conn, project_id, edges, bucket)

    table = "event_rollups_1h" if aligned(edges, HOUR) else "event_rollups_1m"
    params = {
        "project": project_id,
        "start": edges[0],
        "end": edges[-1],
        "top": top,
    }
    base = sql.SQL(
        "SELECT width_bucket(bucket, {edges}) AS i, {key} AS key, sum(events) AS n"
        " FROM {table} WHERE project_id = %(project)s"
        " AND bucket >= %(start)s AND bucket < %(end)s{filters} GROUP BY 1, 2"
    )
    key = sql.Identifier(group_by.value) if group_by else sql.SQL("''")
    query = sql.SQL(
        "WITH r AS ({base}),"
        " top AS (SELECT key FROM r GROUP BY key ORDER BY sum(n) DESC, key LIMIT %(top)s)"
        " SELECT r.i, t.key, sum(r.n)::bigint FROM r LEFT JOIN top t ON t.key = r.key"
        " GROUP BY r.i, t.key"
    ).format(
        base=base.format(
            edges=_edges_literal(edges),
            key=key,
            table=sql.Identifier(table),
            filters=filters.sql(),
        )
    )
    values: dict[str | None, list[int]] = {}
    for i, group, count in conn.execute(query, params).fetchall():
        if 1 <= i <= n:
            values.setdefault(group, [0] * n)[i - 1] += int(count)

    series: list[Series] = []
    if group_by is None:
        series.append(Series("total", False, sum(values.get("", [])), values.get("", [0] * n)))
    else:
        named = [(k, v) for k, v in values.items() if k is not None]
        named.sort(key=lambda kv: (-sum(kv[1]), kv[0]))
        for k, v in named:
            # '' is how rollups spell "no release".
            series.append(Series(k or None, False, sum(v), v))
        if None in values:
            series.append(Series(None, True, sum(values[None]), values[None]))
    return Timeseries(edges, series, False, table)


def _users_timeseries(
    conn: psycopg.Connection, project_id: UUID, edges: list[datetime], bucket: Bucket
) -> Timeseries:
    n = len(edges) - 1
    params = {"project": project_id, "start": edges[0], "end": edges[-1]}
    if bucket in (Bucket.MINUTE, Bucket.FIVE_MINUTES) or not aligned(edges, HOUR):
        rows = conn.execute(
            sql.SQL(
                "SELECT width_bucket(bucket, {edges}), count(DISTINCT user_id)"
                " FROM user_rollups_1m WHERE project_id = %(project)s"
                " AND bucket >= %(start)s AND bucket < %(end)s GROUP BY 1"
            ).format(edges=_edges_literal(edges)),
            params,
        ).fetchall()
        values = [0] * n
        for i, count in rows:
            if 1 <= i <= n:
                values[i - 1] = int(count)
        return Timeseries(edges, [Series("users", False, -1, values)], False, "user_rollups_1m")

    daily = aligned(edges, DAY)
    table = "user_sketches_1d" if daily else "user_sketches_1h"
    one_sketch_per_bucket = (daily and bucket is Bucket.DAY and _fixed_days(edges)) or (
        not daily and bucket is Bucket.HOUR
    )
    if one_sketch_per_bucket:
        query = sql.SQL(
            "SELECT width_bucket(bucket, {edges}) AS i, rho, count(*) FROM {table}"
            " WHERE project_id = %(project)s AND bucket >= %(start)s AND bucket < %(end)s"
            " GROUP BY 1, 2"
        )
    else:
        query = sql.SQL(
            "SELECT i, rho, count(*) FROM ("
            " SELECT width_bucket(bucket, {edges}) AS i, register, max(rho) AS rho FROM {table}"
            " WHERE project_id = %(project)s AND bucket >= %(start)s AND bucket < %(end)s"
            " GROUP BY 1, 2) s GROUP BY 1, 2"
        )
    histograms: dict[int, list[tuple[int, int]]] = {}
    for i, rho, count in conn.execute(
        query.format(edges=_edges_literal(edges), table=sql.Identifier(table)), params
    ).fetchall():
        histograms.setdefault(i, []).append((rho, count))
    values = [hll.estimate(histograms.get(i + 1, [])) for i in range(n)]
    return Timeseries(edges, [Series("users", False, -1, values)], True, table)


def _fixed_days(edges: list[datetime]) -> bool:
    return all(b - a == DAY for a, b in itertools.pairwise(edges))


# Summaries


@dataclass(frozen=True, slots=True)
class TopEvent:
    type: str
    name: str
    events: int


@dataclass(frozen=True, slots=True)
class TopPage:
    path: str
    views: int


@dataclass(frozen=True, slots=True)
class Totals:
    start: datetime
    end: datetime
    events: int
    errors: int
    unique_users: int
    unique_users_approximate: bool

    @property
    def error_rate(self) -> float | None:
        return self.errors / self.events if self.events else None


@dataclass(frozen=True, slots=True)
class Summary:
    current: Totals
    previous: Totals
    top_events: list[TopEvent]
    top_pages: list[TopPage]


def _union(
    parts: list[tuple[str, list[Interval]]], columns: sql.Composable, project_id: UUID
) -> sql.Composable:
    """UNION ALL of one index range scan per (table, interval): each branch is a plain
    (project_id, bucket) range, which the planner serves from the primary key."""
    branches: list[sql.Composable] = []
    for table, intervals in parts:
        for start, end in intervals:
            branches.append(
                sql.SQL(
                    "SELECT {columns} FROM {table} WHERE project_id = {project}"
                    " AND bucket >= {start} AND bucket < {end}"
                ).format(
                    columns=columns,
                    table=sql.Identifier(table),
                    project=sql.Literal(project_id),
                    start=sql.Literal(start),
                    end=sql.Literal(end),
                )
            )
    if not branches:
        return sql.SQL("SELECT {columns} FROM {table} WHERE false").format(
            columns=columns, table=sql.Identifier(parts[0][0])
        )
    return sql.SQL(" UNION ALL ").join(branches)


def _count_parts(prefix: str, span: Cover) -> list[tuple[str, list[Interval]]]:
    return [(f"{prefix}_1h", span.hours), (f"{prefix}_1m", span.minutes)]


def unique_users(
    conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime
) -> tuple[int, bool]:
    """Users active in minute-aligned [start, end): (count, approximate?)."""
    if end - start <= EXACT_USERS_UP_TO:
        row = conn.execute(
            "SELECT count(DISTINCT user_id) FROM user_rollups_1m"
            " WHERE project_id = %s AND bucket >= %s AND bucket < %s",
            (project_id, start, end),
        ).fetchone()
        return (int(row[0]) if row else 0), False
    span = cover(start, end)
    registers = sql.SQL(" UNION ALL ").join(
        [
            _union(
                [("user_sketches_1d", span.days), ("user_sketches_1h", span.hours)],
                sql.SQL("register, rho"),
                project_id,
            ),
            # The edge minutes hold one row per user and minute: hash each user once.
            sql.SQL(
                "SELECT logsight_hll_register(user_id), logsight_hll_rho(user_id)"
                " FROM (SELECT DISTINCT user_id FROM ({edges}) e) u"
            ).format(
                edges=_union([("user_rollups_1m", span.minutes)], sql.SQL("user_id"), project_id)
            ),
        ]
    )
    query = sql.SQL(
        "SELECT rho, count(*) FROM ("
        " SELECT register, max(rho) AS rho FROM ({registers}) s (register, rho)"
        " GROUP BY register) m GROUP BY rho"
    ).format(registers=registers)
    rows = conn.execute(query).fetchall()
    return hll.estimate((int(rho), int(count)) for rho, count in rows), True


def _totals(
    conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime
) -> tuple[int, int]:
    rows = _union(
        _count_parts("event_rollups", cover(start, end, use_days=False)),
        sql.SQL("type, level, events"),
        project_id,
    )
    row = conn.execute(
        sql.SQL(
            "SELECT coalesce(sum(events), 0)::bigint,"
            " coalesce(sum(events) FILTER (WHERE {errorish}), 0)::bigint FROM ({rows}) r"
        ).format(errorish=ERRORISH, rows=rows)
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def summary(conn: psycopg.Connection, project_id: UUID, start: datetime, end: datetime) -> Summary:
    """Totals, error rate, unique users and top events/pages for minute-aligned [start, end),
    with the same totals for the previous period of equal length."""
    span = cover(start, end, use_days=False)
    rows = _union(
        _count_parts("event_rollups", span), sql.SQL("type, name, level, events"), project_id
    )
    grouped = conn.execute(
        sql.SQL(
            "SELECT type, name, n, sum(n) OVER (), sum(e) OVER () FROM ("
            " SELECT type, name, sum(events) AS n,"
            " coalesce(sum(events) FILTER (WHERE {errorish}), 0) AS e"
            " FROM ({rows}) r GROUP BY type, name) g"
            " ORDER BY n DESC, type, name LIMIT {top}"
        ).format(errorish=ERRORISH, rows=rows, top=sql.Literal(TOP_EVENTS))
    ).fetchall()
    events = int(grouped[0][3]) if grouped else 0
    errors = int(grouped[0][4]) if grouped else 0
    top_events = [TopEvent(t, n, int(c)) for t, n, c, _, _ in grouped]

    pages = _union(_count_parts("page_rollups", span), sql.SQL("path, views"), project_id)
    top_pages = [
        TopPage(path, int(views))
        for path, views in conn.execute(
            sql.SQL(
                "SELECT path, sum(views) AS v FROM ({pages}) p GROUP BY path"
                " ORDER BY v DESC, path LIMIT {top}"
            ).format(pages=pages, top=sql.Literal(TOP_PAGES))
        ).fetchall()
    ]
    users, approximate = unique_users(conn, project_id, start, end)
    current = Totals(start, end, events, errors, users, approximate)

    length = end - start
    prev_start, prev_end = start - length, start
    prev_events, prev_errors = _totals(conn, project_id, prev_start, prev_end)
    prev_users, prev_approximate = unique_users(conn, project_id, prev_start, prev_end)
    previous = Totals(prev_start, prev_end, prev_events, prev_errors, prev_users, prev_approximate)
    return Summary(current, previous, top_events, top_pages)


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change; None when there is nothing to compare with."""
    if current is None or not previous:
        return None
    return (current - previous) / previous


__all__ = [
    "Filters",
    "GroupBy",
    "Metric",
    "Series",
    "Summary",
    "Timeseries",
    "Totals",
    "change",
    "summary",
    "timeseries",
    "unique_users",
]
