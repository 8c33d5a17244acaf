"""Issue reads: the list with its filters and keyset pages, one issue, its latest event, its
recent activity and the distribution of its tags. Its events are an event search
(logsight.query.events) by fingerprint."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from logsight.event import DETAIL_COLUMNS
from logsight.query.events import like_pattern
from logsight.query.keyset import Key, Order, Row, fetch

COLUMNS = (
    "id, project_id, fingerprint, title, culprit, error_type, level, first_seen, last_seen,"
    " events, users, first_release, last_release, status, status_changed_at, resolved_at,"
    " ignore_until, ignore_until_events, regressed, regressed_at, regression_event_id"
)
BUILT_IN_TAGS = ("level", "release", "environment", "browser", "os", "device")
# Bucket origin of the activity series, as the rollups'.
ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


class IssueSort(StrEnum):
    LAST_SEEN = "last_seen"
    FIRST_SEEN = "first_seen"
    EVENTS = "events"
    USERS = "users"

    @property
    def by_time(self) -> bool:
        return self in (IssueSort.LAST_SEEN, IssueSort.FIRST_SEEN)

    @property
    def order(self) -> Order:
        return Order((self.value, "id"), (self.value, "id"), descending=True)


@dataclass(frozen=True, slots=True)
class IssueFilters:
    status: str | None = None
    level: str | None = None
    # Issues with events in this release / environment.
    release: str | None = None
    environment: str | None = None
    # Text in the title or culprit.
    text: str | None = None


def _conditions(project_id: UUID, f: IssueFilters) -> list[sql.Composable]:
    where: list[sql.Composable] = [sql.SQL("project_id = {}").format(sql.Literal(project_id))]
    if f.status is not None:
        where.append(sql.SQL("status = {}").format(sql.Literal(f.status)))
    if f.level:
        where.append(sql.SQL("level = {}").format(sql.Literal(f.level)))
    if f.text:
        pattern = sql.Literal(like_pattern(f.text))
        where.append(sql.SQL("(title ILIKE {p} OR culprit ILIKE {p})").format(p=pattern))
    for name, value in (("release", f.release), ("environment", f.environment)):
        if value:
            where.append(
                sql.SQL(
                    "EXISTS (SELECT 1 FROM events e WHERE e.project_id = issues.project_id"
                    " AND e.fingerprint = issues.fingerprint AND e.{} = {})"
                ).format(sql.Identifier(name), sql.Literal(value))
            )
    return where


def search(
    conn: psycopg.Connection,
    project_id: UUID,
    filters: IssueFilters,
    sort: IssueSort,
    *,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of issues by ``sort`` descending, and the key to continue after (None at the
    end): (the sort column's value, id) of the last issue."""
    statement = sql.SQL("SELECT {cols} FROM issues WHERE {where}").format(
        cols=sql.SQL(COLUMNS), where=sql.SQL(" AND ").join(_conditions(project_id, filters))
    )
    return fetch(conn, statement, sort.order, limit=limit, after=after)


def get(conn: psycopg.Connection, project_id: UUID, issue_id: UUID) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL("SELECT {} FROM issues WHERE id = %s AND project_id = %s").format(
                sql.SQL(COLUMNS)
            ),
            (issue_id, project_id),
        ).fetchone()


def latest_event(
    conn: psycopg.Connection, project_id: UUID, fingerprint: str
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            sql.SQL(
                "SELECT {} FROM events WHERE project_id = %s AND fingerprint = %s"
                " ORDER BY timestamp DESC, event_id DESC LIMIT 1"
            ).format(sql.SQL(", ").join(map(sql.Identifier, DETAIL_COLUMNS))),
            (project_id, fingerprint),
        ).fetchone()


def activity(
    conn: psycopg.Connection, project_id: UUID, fingerprint: str, step: timedelta, count: int
) -> list[tuple[datetime, int]]:
    """Events per ``step`` in the last ``count`` buckets (the current one included), zeros
    included, oldest first."""
    now = datetime.now(UTC)
    end = ORIGIN + ((now - ORIGIN) // step) * step
    start = end - step * (count - 1)
    rows = conn.execute(
        "SELECT date_bin(%s, timestamp, %s) AS bucket, count(*) FROM events"
        " WHERE project_id = %s AND fingerprint = %s AND timestamp >= %s"
        " GROUP BY 1",
        (step, ORIGIN, project_id, fingerprint, start),
    ).fetchall()
    counts: dict[datetime, int] = {bucket: int(n) for bucket, n in rows}
    buckets = [start + step * i for i in range(count)]
    return [(bucket, counts.get(bucket, 0)) for bucket in buckets]


def tags(
    conn: psycopg.Connection, project_id: UUID, fingerprint: str, *, sample: int, top: int
) -> list[tuple[str, int, list[tuple[str, int]]]]:
    """(key, events with the key, the ``top`` values and their counts) over the issue's latest
    ``sample`` events: built-in tags and scalar properties, the most common keys first."""
    built_in = ", ".join(f"('{t}', {t})" for t in BUILT_IN_TAGS)
    rows = conn.execute(
        f"""
        WITH recent AS (
            SELECT * FROM events WHERE project_id = %s AND fingerprint = %s
            ORDER BY timestamp DESC LIMIT {int(sample)}
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
        SELECT key, total, value, n FROM counted WHERE rank <= {int(top)}
        ORDER BY total DESC, key, n DESC, value
        """,
        (project_id, fingerprint),
    ).fetchall()
    distributions: dict[str, tuple[str, int, list[tuple[str, int]]]] = {}
    for key, total, value, n in rows:
        entry = distributions.setdefault(key, (key, int(total), []))
        entry[2].append((value, int(n)))
    return list(distributions.values())
