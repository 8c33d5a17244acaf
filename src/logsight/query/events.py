"""Event search: filters, free text and keyset pagination, newest first."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from logsight.event import DETAIL_COLUMNS, LIST_COLUMNS
from logsight.query.keyset import Key, Order, Row, fetch

# The primary key's order: each page is an index range scan.
NEWEST_FIRST = Order(("timestamp", "event_id"), ("timestamp", "event_id"), descending=True)


@dataclass(frozen=True, slots=True)
class EventQuery:
    """What to look for. Lists mean "any of"; different fields must all match."""

    start: datetime | None = None
    end: datetime | None = None
    type: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    level: list[str] = field(default_factory=list)
    user_id: str | None = None
    session_id: str | None = None
    release: str | None = None
    environment: str | None = None
    fingerprint: str | None = None
    # property key → accepted values (compared with the JSON value's text: 42, true, pro)
    properties: dict[str, list[str]] = field(default_factory=dict)
    text: str | None = None


def like_pattern(text: str) -> str:
    """A substring pattern for ILIKE that takes the user's %, _ and \\ literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def conditions(project_id: UUID, q: EventQuery) -> list[sql.Composable]:
    where: list[sql.Composable] = [sql.SQL("project_id = {}").format(sql.Literal(project_id))]
    if q.start is not None:
        where.append(sql.SQL("timestamp >= {}").format(sql.Literal(q.start)))
    if q.end is not None:
        where.append(sql.SQL("timestamp < {}").format(sql.Literal(q.end)))
    for column in ("type", "name", "level"):
        values = getattr(q, column)
        if len(values) == 1:
            where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Literal(values[0])))
        elif values:
            where.append(
                sql.SQL("{} = ANY({})").format(sql.Identifier(column), sql.Literal(list(values)))
            )
    for column in ("user_id", "session_id", "release", "environment", "fingerprint"):
        value = getattr(q, column)
        if value is not None:
            where.append(sql.SQL("{} = {}").format(sql.Identifier(column), sql.Literal(value)))
    for key, values in sorted(q.properties.items()):
        where.append(
            sql.SQL("properties ->> {} = ANY({})").format(sql.Literal(key), sql.Literal(values))
        )
    if q.text:
        # Two ILIKEs rather than one over a concatenation: each matches its own trigram index
        # (a BitmapOr) and a term cannot match across the name/message boundary.
        pattern = sql.Literal(like_pattern(q.text))
        where.append(sql.SQL("(name ILIKE {p} OR message ILIKE {p})").format(p=pattern))
    return where


def search(
    conn: psycopg.Connection,
    project_id: UUID,
    q: EventQuery,
    *,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of events, newest first, and the key to continue after (None at the end).

    The order is the primary key's, (timestamp, event_id) descending, so each page is an index
    range scan and a page boundary never moves when newer events arrive.
    """
    query = sql.SQL("SELECT {columns} FROM events WHERE {where}").format(
        columns=sql.SQL(", ").join(map(sql.Identifier, LIST_COLUMNS)),
        where=sql.SQL(" AND ").join(conditions(project_id, q)),
    )
    return fetch(conn, query, NEWEST_FIRST, limit=limit, after=after)


def get(
    conn: psycopg.Connection,
    project_id: UUID,
    event_id: UUID,
    timestamp: datetime | None = None,
    fingerprint: str | None = None,
) -> dict[str, Any] | None:
    """One event with every field (of the issue ``fingerprint`` names, if given).
    ``timestamp`` (from a search result) narrows the look-up to one partition or chunk;
    without it the (project_id, event_id) index finds it."""
    query = sql.SQL(
        "SELECT {columns} FROM events WHERE project_id = %s AND event_id = %s{at}{issue} LIMIT 1"
    ).format(
        columns=sql.SQL(", ").join(map(sql.Identifier, DETAIL_COLUMNS)),
        at=sql.SQL(" AND timestamp = {}").format(sql.Literal(timestamp))
        if timestamp
        else sql.SQL(""),
        issue=sql.SQL(" AND fingerprint = {}").format(sql.Literal(fingerprint))
        if fingerprint is not None
        else sql.SQL(""),
    )
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, (project_id, event_id)).fetchone()
