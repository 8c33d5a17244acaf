"""Log search: a query string of free text and ``key:value`` terms, a time range, keyset pages
newest first; one line in full; line counts over time; the live tail.

The query string: whitespace separates terms (``"..."`` keeps spaces in one); ``key:value``
filters a column (service, level, environment, release, logger, trace_id, span_id) or else an
attribute (compared with the attribute's JSON value as text); every other term must occur in the
body (case-insensitive substring, served by the trigram index). All terms must match.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from logsight.errors import ApiError
from logsight.query.events import like_pattern
from logsight.query.keyset import Key, Order, Row, fetch
from logsight.query.live import LATE_BOUND, LOOKBACK, SETTLE

NEWEST_FIRST = Order(("timestamp", "log_id"), ("timestamp", "log_id"), descending=True)
FILTER_COLUMNS = ("service", "level", "environment", "release", "logger", "trace_id", "span_id")
LIST_COLUMNS = (
    "log_id",
    "timestamp",
    "received_at",
    "level",
    "severity_number",
    "severity_text",
    "service",
    "environment",
    "release",
    "logger",
    "body",
    "trace_id",
    "span_id",
    "attributes",
)
DETAIL_COLUMNS = (*LIST_COLUMNS, "observed_at", "body_json", "resource", "scope")
COUNT_DIMENSIONS = ("level", "service")
MAX_TERMS = 20
_TERM = re.compile(r"^(?P<key>[A-Za-z_][\w.\-]*):(?P<value>.+)$")


@dataclass(frozen=True, slots=True)
class LogQuery:
    start: datetime | None = None
    end: datetime | None = None
    text: list[str] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    attributes: dict[str, list[str]] = field(default_factory=dict)


def parse(q: str | None, start: datetime | None = None, end: datetime | None = None) -> LogQuery:
    """The query string's terms; 422 naming ``query.q`` when it cannot be read."""
    try:
        terms = shlex.split(q or "")
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"q: {exc}", "query.q") from exc
    if len(terms) > MAX_TERMS:
        raise ApiError(422, "invalid_field", f"q: at most {MAX_TERMS} terms", "query.q")
    text: list[str] = []
    columns: dict[str, list[str]] = {}
    attributes: dict[str, list[str]] = {}
    for term in terms:
        match = _TERM.match(term)
        if match is None:
            text.append(term)
        elif match["key"] in FILTER_COLUMNS:
            columns.setdefault(match["key"], []).append(match["value"])
        else:
            attributes.setdefault(match["key"], []).append(match["value"])
    return LogQuery(start, end, text, columns, attributes)


def conditions(project_id: UUID, q: LogQuery) -> list[sql.Composable]:
    where: list[sql.Composable] = [sql.SQL("project_id = {}").format(sql.Literal(project_id))]
    if q.start is not None:
        where.append(sql.SQL("timestamp >= {}").format(sql.Literal(q.start)))
    if q.end is not None:
        where.append(sql.SQL("timestamp < {}").format(sql.Literal(q.end)))
    # Repeating a key means any of its values; different keys must all match.
    for column, values in sorted(q.columns.items()):
        where.append(sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(values)))
    for key, values in sorted(q.attributes.items()):
        where.append(
            sql.SQL("attributes ->> {} = ANY({})").format(sql.Literal(key), sql.Literal(values))
        )
    for term in q.text:
        where.append(sql.SQL("body ILIKE {}").format(sql.Literal(like_pattern(term))))
    return where


def search(
    conn: psycopg.Connection, project_id: UUID, q: LogQuery, *, limit: int, after: Key | None
) -> tuple[list[Row], Key | None]:
    """One page of lines, newest first (the primary key's order), and the key to continue."""
    query = sql.SQL("SELECT {columns} FROM logs WHERE {where}").format(
        columns=sql.SQL(", ").join(map(sql.Identifier, LIST_COLUMNS)),
        where=sql.SQL(" AND ").join(conditions(project_id, q)),
    )
    return fetch(conn, query, NEWEST_FIRST, limit=limit, after=after)


def get(
    conn: psycopg.Connection, project_id: UUID, log_id: UUID, timestamp: datetime | None
) -> dict[str, Any] | None:
    """One line with its resource, scope and attributes; ``timestamp`` (from a search result)
    narrows the look-up to one partition or chunk."""
    query = sql.SQL("SELECT {columns} FROM logs WHERE project_id = %s AND log_id = %s{at} LIMIT 1")
    statement = query.format(
        columns=sql.SQL(", ").join(map(sql.Identifier, DETAIL_COLUMNS)),
        at=sql.SQL(" AND timestamp = {}").format(sql.Literal(timestamp))
        if timestamp
        else sql.SQL(""),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, (project_id, log_id)).fetchone()


def counts(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    by: str,
    start: datetime,
    end: datetime,
    interval: timedelta,
) -> list[Row]:
    """Lines per ``interval`` and ``by`` (level or service) from the per-minute rollups."""
    if by not in COUNT_DIMENSIONS:
        raise ValueError(by)
    statement = sql.SQL(
        "SELECT date_bin(%s, bucket, TIMESTAMPTZ '2000-01-01Z') AS bucket, {by} AS value,"
        " sum(lines)::bigint AS lines FROM log_rollups_1m"
        " WHERE project_id = %s AND bucket >= %s AND bucket < %s"
        " GROUP BY 1, 2 ORDER BY 1, 2"
    ).format(by=sql.Identifier(by))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(statement, (interval, project_id, start, end)).fetchall()


@dataclass(frozen=True, slots=True)
class TailWindow:
    start: datetime
    end: datetime
    lines: list[Row]
    total: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.lines)


def tail(
    conn: psycopg.Connection, project_id: UUID, q: LogQuery, after: datetime | None, *, limit: int
) -> TailWindow:
    """The lines accepted in (cursor, now - SETTLE] that match ``q``: the event live feed's
    contract (``logsight.query.live``), on ``received_at``."""
    row = conn.execute("SELECT now() - %s", (SETTLE,)).fetchone()
    assert row is not None
    end: datetime = row[0]
    start = end - LOOKBACK if after is None or after < end - LOOKBACK else after
    start = min(start, end)
    where = sql.SQL(" AND ").join(
        [
            *conditions(project_id, q),
            sql.SQL("received_at > {} AND received_at <= {} AND timestamp >= {}").format(
                sql.Literal(start), sql.Literal(end), sql.Literal(start - LATE_BOUND)
            ),
        ]
    )
    columns = sql.SQL(", ").join(map(sql.Identifier, LIST_COLUMNS))
    with conn.cursor(row_factory=dict_row) as cur:
        lines = cur.execute(
            sql.SQL(
                "SELECT {columns} FROM logs WHERE {where}"
                " ORDER BY received_at DESC, log_id DESC LIMIT {limit}"
            ).format(columns=columns, where=where, limit=sql.Literal(limit))
        ).fetchall()
        counted = cur.execute(
            sql.SQL("SELECT count(*) AS n FROM logs WHERE {where}").format(where=where)
        ).fetchone()
    return TailWindow(start, end, lines, int(counted["n"]) if counted else 0)
