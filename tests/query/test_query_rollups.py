"""The rollups behind the query API: what the processor maintains equals what a recomputation
from the stored events gives, migration 0005 builds them for existing events, and the SQL
HyperLogLog is as accurate as it claims."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.query import hll
from logsight.storage.migrate import available_files, plan
from logsight.storage.mode import StorageMode
from logsight.storage.partitions import PartitionManager
from logsight.storage.projects import create_project
from tests.conftest import create_database, drop_database
from tests.support.processor import message, rmq_event
from tests.support.query import QUEUE, Tenant, event, ingest

pytest_plugins = ["tests.support.query"]

# Each rollup as the processor keeps it, and the same relation recomputed from events.
RECOMPUTED = {
    "event_rollups_1m": (
        "SELECT bucket, type, name, level, release, events FROM event_rollups_1m",
        "SELECT date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), type, name, level,"
        " coalesce(release, ''), count(*) FROM events",
        "GROUP BY 1, 2, 3, 4, 5",
    ),
    "event_rollups_1h": (
        "SELECT bucket, type, name, level, release, events FROM event_rollups_1h",
        "SELECT date_bin('1 hour', timestamp, TIMESTAMPTZ '2000-01-01Z'), type, name, level,"
        " coalesce(release, ''), count(*) FROM events",
        "GROUP BY 1, 2, 3, 4, 5",
    ),
    "page_rollups_1m": (
        "SELECT bucket, path, views FROM page_rollups_1m",
        "SELECT date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'),"
        " logsight_url_path(context->>'url'), count(*) FROM events",
        "AND type = 'pageview' GROUP BY 1, 2",
    ),
    "page_rollups_1h": (
        "SELECT bucket, path, views FROM page_rollups_1h",
        "SELECT date_bin('1 hour', timestamp, TIMESTAMPTZ '2000-01-01Z'),"
        " logsight_url_path(context->>'url'), count(*) FROM events",
        "AND type = 'pageview' GROUP BY 1, 2",
    ),
    "user_sketches_1h": (
        "SELECT bucket, register, rho FROM user_sketches_1h",
        "SELECT date_bin('1 hour', timestamp, TIMESTAMPTZ '2000-01-01Z'),"
        " logsight_hll_register(user_id), max(logsight_hll_rho(user_id)) FROM events",
        "AND user_id IS NOT NULL GROUP BY 1, 2",
    ),
    "user_sketches_1d": (
        "SELECT bucket, register, rho FROM user_sketches_1d",
        "SELECT date_bin('1 day', timestamp, TIMESTAMPTZ '2000-01-01Z'),"
        " logsight_hll_register(user_id), max(logsight_hll_rho(user_id)) FROM events",
        "AND user_id IS NOT NULL GROUP BY 1, 2",
    ),
}


def assert_rollups_match_events(conn: psycopg.Connection, project_id: uuid.UUID) -> None:
    for table, (kept, recomputed, tail) in RECOMPUTED.items():
        have = sorted(
            conn.execute(f"{kept} WHERE project_id = %s".encode(), (project_id,)).fetchall()
        )
        want = sorted(
            conn.execute(
                f"{recomputed} WHERE project_id = %s {tail}".encode(), (project_id,)
            ).fetchall()
        )
        assert have == want, table
        assert have, table


def _mixed_events(base: datetime) -> list[dict[str, object]]:
    return [
        event(
            base + timedelta(minutes=i * 7),
            f"e{i % 3}",
            user={"id": f"u{i % 11}"},
            release="2.0" if i % 2 else None,
        )
        for i in range(40)
    ] + [
        {
            "type": "pageview",
            "timestamp": (base + timedelta(minutes=i * 13)).isoformat(),
            "context": {"url": f"https://x.example/p{i % 4}?q={i}"},
            "user": {"id": f"u{i}"},
        }
        for i in range(20)
    ]


def test_processor_rollups_equal_a_recomputation_and_ignore_redelivery(
    processor: BatchProcessor, tenant: Tenant, db: psycopg.Connection
) -> None:
    base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=6)
    events = _mixed_events(base)
    for e in events:
        e["event_id"] = str(uuid.uuid4())
    ingest(processor, tenant.project_id, events[:30])
    ingest(processor, tenant.project_id, events[20:])  # ten already written
    assert_rollups_match_events(db, tenant.project_id)
    before = {
        t: db.execute(
            f"SELECT * FROM {t} WHERE project_id = %s ORDER BY 2, 3, 4".encode(),
            (tenant.project_id,),
        ).fetchall()
        for t in RECOMPUTED
    }
    body = message(tenant.project_id, *events[:10], received_at=base + timedelta(hours=5))
    outcome = processor.process(records_from_event(rmq_event(QUEUE, [body], redelivered=True)))
    assert outcome.inserted == 0
    after = {
        t: db.execute(
            f"SELECT * FROM {t} WHERE project_id = %s ORDER BY 2, 3, 4".encode(),
            (tenant.project_id,),
        ).fetchall()
        for t in RECOMPUTED
    }
    assert after == before


@pytest.fixture
def migrated_to_0004() -> Iterator[str]:
    url = create_database("logsight_query_migration")
    with psycopg.connect(url, autocommit=True) as conn:
        for migration in plan(available_files(), StorageMode.POSTGRES):
            if migration.version >= "0005":
                break
            conn.execute(migration.sql.encode())
    yield url
    drop_database(url)


def test_migration_0005_builds_the_rollups_of_stored_events(migrated_to_0004: str) -> None:
    migration = next(
        m for m in plan(available_files(), StorageMode.POSTGRES) if m.version == "0005"
    )
    base = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    with psycopg.connect(migrated_to_0004, autocommit=True) as conn:
        project = create_project(conn, "old")
        PartitionManager().ensure(conn, {base.date()})
        # Events stored before 0005, with the old rollups the processor kept then.
        conn.execute(
            "INSERT INTO events (project_id, event_id, timestamp, received_at, type, name, level,"
            " user_id, release, context)"
            " SELECT %s, gen_random_uuid(), %s + i * interval '97 seconds', now(),"
            " CASE WHEN i %% 4 = 0 THEN 'pageview' ELSE 'event' END, 'n' || (i %% 3), 'info',"
            " 'u' || (i %% 17), CASE WHEN i %% 2 = 0 THEN '1.' || (i %% 3) END,"
            " jsonb_build_object('url', 'https://x.example/a/' || (i %% 5) || '?x=' || i)"
            " FROM generate_series(0, 299) AS i",
            (project.id, base),
        )
        conn.execute(
            "INSERT INTO event_rollups_1m SELECT project_id,"
            " date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), type, name, level,"
            " count(*) FROM events GROUP BY 1, 2, 3, 4, 5"
        )
        conn.execute(
            "INSERT INTO user_rollups_1m SELECT DISTINCT project_id,"
            " date_bin('1 minute', timestamp, TIMESTAMPTZ '2000-01-01Z'), user_id FROM events"
        )
        with conn.transaction():
            conn.execute(migration.sql.encode())
        assert_rollups_match_events(conn, project.id)
        indexes = {
            row[0]
            for row in conn.execute(
                "SELECT indexname FROM pg_indexes WHERE tablename = 'events'"
            ).fetchall()
        }
        assert {
            "events_received_idx",
            "events_event_id_idx",
            "events_name_trgm_idx",
            "events_message_trgm_idx",
        } <= indexes


@pytest.mark.parametrize("users", [1, 7, 500, 20_000, 200_000])
def test_sql_hyperloglog_is_within_two_percent(db: psycopg.Connection, users: int) -> None:
    rows = db.execute(
        "SELECT rho, count(*) FROM ("
        " SELECT logsight_hll_register('user-' || i) AS register,"
        " max(logsight_hll_rho('user-' || i)) AS rho"
        " FROM generate_series(1, %s) AS i GROUP BY 1) s GROUP BY rho",
        (users,),
    ).fetchall()
    estimate = hll.estimate(rows)
    if users <= 500:
        assert estimate == users
    else:
        assert abs(estimate - users) / users < 0.02


def test_url_paths(db: psycopg.Connection) -> None:
    cases = {
        "https://shop.example/pricing?ref=ad#top": "/pricing",
        "http://x.example": "/",
        "/docs/a/b?c": "/docs/a/b",
        "//cdn.example/x.js": "/x.js",
        "": "/",
    }
    for url, path in cases.items():
        row = db.execute("SELECT logsight_url_path(%s)", (url,)).fetchone()
        assert row == (path,), url
    assert db.execute("SELECT logsight_url_path(NULL)").fetchone() == ("/",)


def _relation_columns(sql: str) -> dict[str, list[str]]:
    """Column names, in order, of each table a migration creates or alters."""
    found: dict[str, list[str]] = {}
    for name, body in re.findall(r"CREATE TABLE (\w+) \((.*?)\n\)[^;]*;", sql, re.S):
        found[name] = [
            line.split()[0]
            for line in body.strip().splitlines()
            if line.strip() and not line.strip().startswith(("PRIMARY", "--"))
        ]
    for name, column in re.findall(r"ALTER TABLE (\w+) ADD COLUMN (\w+)", sql):
        found.setdefault(name, []).append(column)
    return found


def test_both_layouts_offer_the_same_relations() -> None:
    files = available_files()
    postgres = _relation_columns(files["0002_events.postgres.sql"])
    for name, columns in _relation_columns(files["0005_query_rollups.postgres.sql"]).items():
        postgres.setdefault(name, []).extend(columns)
    timescale = _relation_columns(files["0014_rollup_tables.timescale.sql"])
    # The same columns in the same order: the processor's one statement writes both.
    assert {t: postgres[t] for t in RECOMPUTED} == {t: timescale[t] for t in RECOMPUTED}
    assert set(timescale) == set(RECOMPUTED) | {"user_rollups_1m"}
