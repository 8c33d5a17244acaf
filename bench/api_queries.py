"""Query API latency at scale: 10 million events over 7 days in one project.

Run: ``.venv/bin/python -m bench.api_queries [--events N] [--runs N] [--keep]``

A database of its own is created on 127.0.0.1:5432, migrated (plain PostgreSQL layout) and
dropped afterwards. Events are generated set-based with generate_series (one INSERT per day
partition, the secondary indexes built after the load), and the rollups are then computed
set-based from the loaded rows with the same grains and keys the processor maintains. Each
query is the one the API runs (the functions in ``logsight.query`` inside ``read_only``), timed
warm over repeated runs; each also gets an EXPLAIN (ANALYZE, BUFFERS) summary.

Prints a Markdown section and writes it to docs/benchmarks-api.md.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from bench.common import PG_ADMIN_URL, REPO, log, percentile
from logsight.dashboard_schema import (
    Dimension,
    PropertyFilter,
    WidgetFilters,
    WidgetGroupBy,
    WidgetMetric,
    WidgetQuery,
)
from logsight.query import events as event_queries
from logsight.query import impact as impact_queries
from logsight.query import read_only
from logsight.query import stats as stat_queries
from logsight.query import widgets as widget_queries
from logsight.query.timerange import bucket_edges, choose_bucket, minute_range, zone
from logsight.storage.migrate import migrate
from logsight.storage.partitions import PartitionManager
from logsight.storage.projects import create_project

RESULTS = REPO / "docs" / "benchmarks-api.md"
USERS = 50_000
ROLLUP_RELATIONS = (
    "event_rollups_1m",
    "event_rollups_1h",
    "page_rollups_1m",
    "page_rollups_1h",
    "user_rollups_1m",
    "user_sketches_1h",
    "user_sketches_1d",
)
DAYS = 7

# One day of synthetic events; %(...)s are bound per day. Users are skewed (a few heavy users,
# a long tail): 50 000 ids, about 75% of events carry one.
_LOAD_DAY = """
INSERT INTO events (project_id, event_id, timestamp, received_at, type, name, level, message,
                    user_id, session_id, release, environment, fingerprint, browser, os, device,
                    properties, context)
SELECT %(project)s, gen_random_uuid(), ts, ts + make_interval(secs => r4 * 2), type,
       CASE type
           WHEN 'event' THEN (ARRAY['signup','login','checkout','add_to_cart','search',
                'view_item','share','logout','invite_sent','export','upgrade','feedback'])
                [1 + floor(r2 * r2 * 12)::int]
           WHEN 'pageview' THEN 'pageview'
           WHEN 'error' THEN (ARRAY['TypeError','ReferenceError','NetworkError','TimeoutError',
                'SyntaxError','RangeError'])[1 + floor(r2 * 6)::int]
           ELSE 'log' END,
       CASE type WHEN 'error' THEN 'error'
                 WHEN 'log' THEN (ARRAY['debug','info','warning'])[1 + floor(r2 * 3)::int]
                 ELSE 'info' END,
       CASE type WHEN 'error' THEN 'failed to load resource ' || floor(r3 * 500)::int
                 WHEN 'log' THEN 'cache ' || (ARRAY['hit','miss'])[1 + floor(r4 * 2)::int]
                                 || ' for key k' || floor(r3 * 10000)::int
                 END,
       CASE WHEN r4 < 0.75 THEN 'u' || floor(%(users)s * r3 * r3)::int END,
       CASE WHEN r4 < 0.75 THEN 's' || floor(%(users)s * r3 * r3)::int || '-' || %(day)s END,
       '1.' || floor(r5 * 8)::int,
       CASE WHEN r5 < 0.9 THEN 'production' ELSE 'staging' END,
       CASE type WHEN 'error' THEN md5(floor(r3 * 500)::text) END,
       (ARRAY['Chrome 120','Firefox 121','Safari 17','Edge 120'])[1 + floor(r5 * 4)::int],
       (ARRAY['Windows 10','macOS 14','iOS 17','Android 14'])[1 + floor(r4 * 4)::int],
       CASE WHEN r4 < 0.4 THEN 'Mobile' ELSE 'Desktop' END,
       jsonb_build_object('plan', (ARRAY['free','pro','team'])[1 + floor(r5 * 3)::int],
                          'items', floor(r2 * 10)::int),
       CASE type WHEN 'pageview' THEN jsonb_build_object(
           'url', 'https://shop.example/p/' || floor(r2 * r2 * 300)::int
                  || '?ref=' || floor(r5 * 5)::int)
       END
FROM (
    SELECT %(start)s::timestamptz + (i::float8 / %(n)s) * interval '1 day' AS ts,
           CASE WHEN r1 < 0.60 THEN 'event' WHEN r1 < 0.85 THEN 'pageview'
                WHEN r1 < 0.97 THEN 'log' ELSE 'error' END AS type,
           r2, r3, r4, r5
    FROM (SELECT i, random() AS r1, random() AS r2, random() AS r3, random() AS r4,
                 random() AS r5 FROM generate_series(0, %(n)s - 1) AS i) AS g
) AS e
"""

# The rollups the processor would have written for these rows (same grains, keys and UTC
# alignment as storage/writer.py), computed set-based.
_ROLLUPS = [
    """INSERT INTO event_rollups_1m (project_id, bucket, type, name, level, release, events)
       SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), type, name,
              level, coalesce(release, ''), count(*) FROM events GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO event_rollups_1h (project_id, bucket, type, name, level, release, events)
       SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'), type, name,
              level, release, sum(events) FROM event_rollups_1m GROUP BY 1, 2, 3, 4, 5, 6""",
    """INSERT INTO page_rollups_1m (project_id, bucket, path, views)
       SELECT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'),
              logsight_url_path(context->>'url'), count(*) FROM events WHERE type = 'pageview'
       GROUP BY 1, 2, 3""",
    """INSERT INTO page_rollups_1h (project_id, bucket, path, views)
       SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'), path,
              sum(views) FROM page_rollups_1m GROUP BY 1, 2, 3""",
    """INSERT INTO user_rollups_1m (project_id, bucket, user_id)
       SELECT DISTINCT project_id, date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'),
              user_id FROM events WHERE user_id IS NOT NULL""",
    """INSERT INTO user_sketches_1h (project_id, bucket, register, rho)
       SELECT project_id, date_bin('1 hour', bucket, TIMESTAMPTZ '2000-01-01Z'),
              logsight_hll_register(user_id), max(logsight_hll_rho(user_id))
       FROM user_rollups_1m GROUP BY 1, 2, 3""",
    """INSERT INTO user_sketches_1d (project_id, bucket, register, rho)
       SELECT project_id, date_bin('1 day', bucket, TIMESTAMPTZ '2000-01-01Z'), register,
              max(rho) FROM user_sketches_1h GROUP BY 1, 2, 3""",
]


@dataclass
class Measured:
    name: str
    goal_ms: float | None
    timings_ms: list[float] = field(default_factory=list)
    plans: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def p50(self) -> float:
        return percentile(self.timings_ms, 50)

    @property
    def p95(self) -> float:
        return percentile(self.timings_ms, 95)


class Recorder:
    """Stands in for a connection to record the statements a query function runs."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn = conn
        self.statements: list[tuple[Any, Any]] = []

    def execute(self, query: Any, params: Any = None) -> Any:
        self.statements.append((query, params))
        return self.conn.execute(query, params)

    @contextmanager
    def cursor(self, **kwargs: Any) -> Iterator[Any]:
        outer = self

        class _Cursor:
            def __init__(self, cur: Any) -> None:
                self._cur = cur

            def execute(self, query: Any, params: Any = None) -> Any:
                outer.statements.append((query, params))
                return self._cur.execute(query, params)

        with self.conn.cursor(**kwargs) as cur:
            yield _Cursor(cur)


def _summarize(plan: dict[str, Any]) -> str:
    """One line: execution time, buffers, and the scans/aggregates in the plan tree."""
    nodes: list[str] = []

    def walk(node: dict[str, Any]) -> None:
        kind = node["Node Type"]
        relation = node.get("Relation Name") or node.get("Index Name")
        if kind.endswith("Scan") or "Aggregate" in kind or kind in ("Sort", "Limit", "Append"):
            label = f"{kind} {relation}" if relation else kind
            if node.get("Index Name") and node.get("Relation Name"):
                label = f"{kind} on {node['Relation Name']} using {node['Index Name']}"
            rows = node.get("Actual Rows", 0) * node.get("Actual Loops", 1)
            nodes.append(f"{label} ({rows:,.0f} rows)")
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    top = plan["Plan"]
    hit = top.get("Shared Hit Blocks", 0)
    read = top.get("Shared Read Blocks", 0)
    distinct: list[str] = []
    for n in nodes:
        if n not in distinct:
            distinct.append(n)
    shown = "; ".join(distinct[:6]) + (f"; … {len(distinct) - 6} more" if len(distinct) > 6 else "")
    return f"{plan['Execution Time']:.1f} ms, buffers hit {hit:,} read {read:,}: {shown}"


def explain(conn: psycopg.Connection, statements: list[tuple[Any, Any]]) -> list[str]:
    lines = []
    for query, params in statements:
        text = query.as_string(conn) if hasattr(query, "as_string") else query
        if isinstance(text, bytes):
            text = text.decode()
        if text.strip().lower().startswith(("set ", "select set_config", "select now()")):
            continue
        # The same transaction settings as the API's queries (timeout, no JIT, work_mem).
        with read_only(conn):
            row = conn.execute(
                ("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + text).encode(), params
            ).fetchone()
        assert row is not None
        plan = row[0][0] if isinstance(row[0], list) else json.loads(row[0])[0]
        lines.append(_summarize(plan))
    return lines


def measure(
    conn: psycopg.Connection,
    name: str,
    goal_ms: float | None,
    run: Callable[[Any], Any],
    *,
    runs: int,
    warmup: int = 3,
) -> tuple[Measured, Any]:
    result: Any = None
    for _ in range(warmup):
        with read_only(conn):
            result = run(conn)
    measured = Measured(name, goal_ms)
    for _ in range(runs):
        started = time.perf_counter()
        with read_only(conn):
            result = run(conn)
        measured.timings_ms.append((time.perf_counter() - started) * 1000)
    recorder = Recorder(conn)
    with read_only(conn):
        run(recorder)
    measured.plans = explain(conn, recorder.statements)
    log(f"{name}: p50 {measured.p50:.1f} ms, p95 {measured.p95:.1f} ms")
    return measured, result


def create_database() -> str:
    name = f"logsight_bench_api_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"'.encode())
    return f"postgresql://postgres@127.0.0.1:5432/{name}"


def drop_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


def load(url: str, total: int, now: datetime) -> tuple[UUID, dict[str, float]]:
    phases: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        project_id = create_project(conn, "bench").id
        start = (now - timedelta(days=DAYS)).replace(second=0, microsecond=0)
        days = [(start + timedelta(days=d)).date() for d in range(DAYS + 1)]
        PartitionManager().ensure(conn, set(days))
        conn.execute("SET synchronous_commit = off")
        conn.execute("SET maintenance_work_mem = '512MB'")
        # Secondary indexes are built after the load (much faster than maintaining them row by
        # row); the primary key stays, as it is append-mostly for time-ordered rows.
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'"
            " AND indexname <> 'events_pkey'"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"'.encode())

        t0 = time.perf_counter()
        per_day = total // DAYS
        for d in range(DAYS):
            n = per_day if d < DAYS - 1 else total - per_day * (DAYS - 1)
            # A day's rows from start + d days; they span two calendar partitions at most.
            conn.execute(
                _LOAD_DAY,
                {
                    "project": project_id,
                    "start": start + timedelta(days=d),
                    "n": n,
                    "users": USERS,
                    "day": d,
                },
            )
            log(f"loaded day {d + 1}/{DAYS} ({n:,} events) at {time.perf_counter() - t0:.0f} s")
        phases["insert events"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for name, definition in indexes:
            # pg_indexes shows the parent's definition as ON ONLY (no partitions); without
            # ONLY it is built on every partition, as the migration built it.
            conn.execute(definition.replace(" ON ONLY ", " ON ").encode())
            log(f"index {name} at {time.perf_counter() - t0:.0f} s")
        phases["secondary indexes"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        for statement in _ROLLUPS:
            conn.execute(statement.encode())
        phases["rollups"] = time.perf_counter() - t0
        log(f"rollups in {phases['rollups']:.0f} s")

        t0 = time.perf_counter()
        # Index-only scans need the visibility map; statistics for the planner.
        conn.execute("VACUUM ANALYZE")
        phases["vacuum analyze"] = time.perf_counter() - t0
    return project_id, phases


def sizes(conn: psycopg.Connection) -> dict[str, tuple[int, int]]:
    result = {}
    for table in ROLLUP_RELATIONS:
        row = conn.execute(
            f"SELECT count(*), pg_total_relation_size('{table}') FROM {table}".encode()
        ).fetchone()
        assert row is not None
        result[table] = (int(row[0]), int(row[1]))
    events_size = conn.execute(
        "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_inherits i"
        " JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'events'::regclass"
    ).fetchone()
    events_count = conn.execute("SELECT count(*) FROM events").fetchone()
    assert events_size is not None
    assert events_count is not None
    result["events"] = (int(events_count[0]), int(events_size[0]))
    return result


def run_queries(
    url: str, project_id: UUID, now: datetime, runs: int
) -> tuple[list[Measured], dict[str, Any]]:
    results: list[Measured] = []
    facts: dict[str, Any] = {}
    utc = zone("UTC")
    with psycopg.connect(url, autocommit=True) as conn:
        for label, span in (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7))):
            start, end = now - span, now
            bucket = choose_bucket(start, end)
            edges = bucket_edges(start, end, bucket, utc)

            def series(c: Any, edges: list[datetime] = edges, bucket: Any = bucket) -> Any:
                return stat_queries.timeseries(c, project_id, edges, bucket=bucket)

            m, _ = measure(
                conn, f"time series {label} ({bucket.value} buckets)", 100, series, runs=runs
            )
            results.append(m)

            def grouped(c: Any, edges: list[datetime] = edges, bucket: Any = bucket) -> Any:
                return stat_queries.timeseries(
                    c, project_id, edges, bucket=bucket, group_by=stat_queries.GroupBy.NAME
                )

            m, _ = measure(
                conn, f"time series {label}, group by name (top 5 + other)", 100, grouped, runs=runs
            )
            results.append(m)

            lo, hi = minute_range(start, end)

            def summary(c: Any, lo: datetime = lo, hi: datetime = hi) -> Any:
                return stat_queries.summary(c, project_id, lo, hi)

            m, result = measure(conn, f"summary {label} (with trend)", 100, summary, runs=runs)
            results.append(m)
            facts[f"summary {label}"] = result

        lo, hi = minute_range(now - timedelta(days=7), now)

        def users(c: Any) -> Any:
            return stat_queries.unique_users(c, project_id, lo, hi)

        m, (estimate, _) = measure(conn, "unique users 7 d (HyperLogLog)", 300, users, runs=runs)
        results.append(m)
        t0 = time.perf_counter()
        exact_row = conn.execute(
            "SELECT count(DISTINCT user_id) FROM user_rollups_1m"
            " WHERE project_id = %s AND bucket >= %s AND bucket < %s",
            (project_id, lo, hi),
        ).fetchone()
        exact_ms = (time.perf_counter() - t0) * 1000
        assert exact_row is not None
        exact = int(exact_row[0])
        m.note = (
            f"estimate {estimate:,} vs exact {exact:,}: error {(estimate - exact) / exact:+.2%}"
            f" (exact count over the minute sets: {exact_ms:,.0f} ms)"
        )
        facts["users"] = (estimate, exact, exact_ms)

        start24 = now - timedelta(hours=24)
        edges24 = bucket_edges(start24, now, choose_bucket(start24, now), utc)

        def users_series(c: Any) -> Any:
            return stat_queries.timeseries(
                c,
                project_id,
                edges24,
                bucket=choose_bucket(start24, now),
                metric=stat_queries.Metric.USERS,
            )

        m, _ = measure(conn, "unique users per hour, 24 h", None, users_series, runs=runs)
        results.append(m)

        searches: list[tuple[str, event_queries.EventQuery]] = [
            ("event search, first page (no filter)", event_queries.EventQuery()),
            (
                'event search, first page, q="timeout" (name TimeoutError: ~0.5% of events)',
                event_queries.EventQuery(text="timeout"),
            ),
            (
                'event search, first page, q="load resource 42" (~0.07% of events)',
                event_queries.EventQuery(text="load resource 42"),
            ),
            (
                "event search, first page, name=checkout & prop.plan=pro",
                event_queries.EventQuery(name=["checkout"], properties={"plan": ["pro"]}),
            ),
            (
                "event search, first page, user_id=u12345",
                event_queries.EventQuery(user_id="u12345"),
            ),
        ]
        for label, q in searches:

            def find(c: Any, q: event_queries.EventQuery = q) -> Any:
                return event_queries.search(c, project_id, q, limit=50)

            m, _ = measure(conn, label, 150, find, runs=runs)
            results.append(m)

        results += _widget_and_impact_queries(conn, project_id, now, runs)
    return results, facts


def _widget_and_impact_queries(
    conn: psycopg.Connection, project_id: UUID, now: datetime, runs: int
) -> list[Measured]:
    """Dashboard widgets that the rollups cannot answer (environment, properties: counted from
    the events), and an issue's impact (users, sessions, sessions reaching an event)."""
    results: list[Measured] = []
    start = now - timedelta(hours=24)
    bucket = choose_bucket(start, now)
    edges = bucket_edges(start, now, bucket, zone("UTC"))
    widgets_asked = [
        (
            "widget 24 h, group by environment (events)",
            WidgetQuery(group_by=WidgetGroupBy(by=Dimension.ENVIRONMENT)),
        ),
        (
            "widget 24 h, name=checkout & prop.plan=pro & environment=production (events)",
            WidgetQuery(
                filters=WidgetFilters(
                    name=["checkout"],
                    environment=["production"],
                    properties=[PropertyFilter(key="plan", values=["pro"])],
                )
            ),
        ),
        (
            "widget 24 h, unique users by property plan (events)",
            WidgetQuery(
                metric=WidgetMetric.USERS,
                group_by=WidgetGroupBy(by=Dimension.PROPERTY, key="plan"),
            ),
        ),
    ]
    for label, widget in widgets_asked:

        def evaluate(c: Any, widget: WidgetQuery = widget) -> Any:
            return widget_queries.evaluate(c, project_id, edges, bucket, widget)

        m, _ = measure(conn, label, 1000, evaluate, runs=runs)
        results.append(m)

    # One of the bench's 500 issues (an error's fingerprint is the md5 of a number below 500).
    fingerprint = conn.execute("SELECT md5('42')").fetchone()[0]  # type: ignore[index]
    for label, span in (("24 h", timedelta(hours=24)), ("7 d", timedelta(days=7))):
        lo, hi = minute_range(now - span, now)

        def impact(c: Any, lo: datetime = lo, hi: datetime = hi) -> Any:
            impact_queries.issue_reach(c, project_id, fingerprint, lo, hi)
            return impact_queries.session_split(c, project_id, fingerprint, "checkout", lo, hi)

        m, _ = measure(conn, f"issue impact {label}, event=checkout", 1000, impact, runs=runs)
        results.append(m)
    return results


def report(
    results: list[Measured],
    facts: dict[str, Any],
    phases: dict[str, float],
    table_sizes: dict[str, tuple[int, int]],
    total: int,
    runs: int,
) -> str:
    lines = [
        "## API queries at scale",
        "",
        f"{total:,} events over {DAYS} days in one project (plain PostgreSQL 15 layout: daily"
        f" partitions; {USERS:,} user ids, skewed, on ~75% of events; 60% custom events, 25%"
        " page views, 12% logs, 3% errors), on this 2-core machine with the shared server's"
        " settings (shared_buffers 128 MB, work_mem 4 MB). Each query is what the API runs"
        f" (logsight.query inside read_only), warm, {runs} runs after 3 warm-up runs;"
        " the HTTP layer (Mangum, FastAPI, auth) is not included.",
        "",
        "| query | p50 ms | p95 ms | goal p95 | met |",
        "|---|---:|---:|---:|---|",
    ]
    for m in results:
        goal = f"≤ {m.goal_ms:.0f}" if m.goal_ms else "—"
        met = "—" if m.goal_ms is None else ("yes" if m.p95 <= m.goal_ms else "**no**")
        lines.append(f"| {m.name} | {m.p50:.1f} | {m.p95:.1f} | {goal} | {met} |")
    estimate, exact, exact_ms = facts["users"]
    lines += [
        "",
        f"Unique users over 7 d: HyperLogLog estimate {estimate:,}, exact {exact:,}"
        f" (error {(estimate - exact) / exact:+.2%}; standard error of 2^14 registers: 0.81%)."
        f" The exact count over the per-minute user sets takes {exact_ms:,.0f} ms.",
        "",
        "Load (set-based, this run): "
        + ", ".join(f"{k} {v:,.0f} s" for k, v in phases.items())
        + f"; total {sum(phases.values()):,.0f} s.",
        "",
        "| relation | rows | size |",
        "|---|---:|---:|",
    ]
    for table, (count, size) in table_sizes.items():
        lines.append(f"| {table} | {count:,} | {size / 1024 / 1024:,.0f} MB |")
    lines += ["", "### Plans (EXPLAIN ANALYZE, BUFFERS; one line per statement)", ""]
    for m in results:
        lines.append(f"- **{m.name}**" + (f": {m.note}" if m.note else ""))
        for plan in m.plans:
            lines.append(f"  - {plan}")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--keep", action="store_true", help="keep the database (prints its URL)")
    args = parser.parse_args()

    # A terminated run still drops its database (the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    url = create_database()
    log(f"database {url}")
    try:
        migrate(url, timescale="off")
        now = datetime.now(UTC)
        project_id, phases = load(url, args.events, now)
        with psycopg.connect(url, autocommit=True) as conn:
            table_sizes = sizes(conn)
        results, facts = run_queries(url, project_id, now, args.runs)
        text = report(results, facts, phases, table_sizes, args.events, args.runs)
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(
            "# API query benchmarks\n\n"
            f"Generated by `make bench-api` (`.venv/bin/python -m bench.api_queries`) on "
            f"{now:%Y-%m-%d %H:%M} UTC; the machine is described in "
            "[benchmarks.md](benchmarks.md).\n\n" + text
        )
        print()
        print(text)
    finally:
        if args.keep:
            log(f"kept {url}")
        else:
            drop_database(url)


if __name__ == "__main__":
    main()
