"""Migrations, storage modes and maintenance: the plain PostgreSQL path runs for real (chosen
explicitly, whatever the machine's PostgreSQL has installed); the TimescaleDB path is checked by
which statements it chooses. Choosing the layout: tests/test_storage_modes.py."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from logsight.storage import maintenance
from logsight.storage.maintenance import Retention, run_maintenance
from logsight.storage.migrate import MigrationError, available_files, migrate, plan
from logsight.storage.mode import StorageMode, recorded_mode
from logsight.storage.partitions import PartitionManager, existing_partitions, partition_name
from logsight.storage.projects import create_project
from logsight.storage.writer import insert_statement
from tests.conftest import PG_ADMIN_URL as PG_URL
from tests.conftest import count_rows, create_database, drop_database


@pytest.fixture
def fresh_database() -> Iterator[str]:
    url = create_database("logsight_storage")
    yield url
    drop_database(url)


def test_migrate_is_idempotent_and_recorded(fresh_database: str) -> None:
    applied = migrate(fresh_database, timescale="off")
    assert applied[:2] == ["0001_tenancy.sql", "0002_events.postgres.sql"]
    assert applied == sorted(applied)
    assert not any(name.endswith(".timescale.sql") for name in applied)
    assert migrate(fresh_database, timescale="off") == []
    with psycopg.connect(fresh_database) as conn:
        assert recorded_mode(conn) is StorageMode.POSTGRES
        rows = conn.execute("SELECT version, filename FROM schema_migrations ORDER BY 1").fetchall()
    assert [filename for _, filename in rows] == applied


def test_concurrent_migrations_apply_each_file_once(fresh_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(fresh_database, timescale="off"))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    applied = max(results, key=len)
    assert len(applied) >= 3
    assert sorted(len(r) for r in results) == [0, 0, 0, len(applied)]


def test_plan_picks_the_variant_for_the_mode() -> None:
    files = available_files()
    timescale = [m.filename for m in plan(files, StorageMode.TIMESCALE)]
    postgres = [m.filename for m in plan(files, StorageMode.POSTGRES)]
    assert timescale[:2] == ["0001_tenancy.sql", "0002_events.timescale.sql"]
    assert postgres[:2] == ["0001_tenancy.sql", "0002_events.postgres.sql"]
    assert len(timescale) == len(postgres)
    for ts_name, pg_name in zip(timescale, postgres, strict=True):
        assert ts_name.split("_")[0] == pg_name.split("_")[0]
        assert not ts_name.endswith(".postgres.sql")
        assert not pg_name.endswith(".timescale.sql")


def test_plan_refuses_a_version_without_a_variant_for_the_mode() -> None:
    with pytest.raises(MigrationError):
        plan({"0001_a.timescale.sql": "SELECT 1"}, StorageMode.POSTGRES)
    with pytest.raises(MigrationError):
        plan({"1_bad.sql": "SELECT 1"}, StorageMode.POSTGRES)


def _sql(name: str) -> str:
    return available_files()[name]


def test_timescale_layout_uses_hypertable_compression_and_continuous_aggregates() -> None:
    sql = _sql("0002_events.timescale.sql")
    assert re.search(
        r"create_hypertable\(\s*'events', 'timestamp',\s*chunk_time_interval => INTERVAL '1 day'",
        sql,
    )
    assert "timescaledb.compress_segmentby = 'project_id'" in sql
    assert "add_compression_policy('events', INTERVAL '7 days'" in sql
    assert sql.count("WITH (timescaledb.continuous, timescaledb.materialized_only = false)") == 2
    assert sql.count("add_continuous_aggregate_policy(") == 2
    # Continuous aggregates must be created WITH NO DATA to be allowed inside a transaction.
    assert sql.count("WITH NO DATA") == 2
    assert "PARTITION BY" not in sql


def _columns(sql: str, name: str) -> list[str]:
    """Column names of a plain table or of a continuous aggregate's SELECT list."""
    table = re.search(rf"CREATE TABLE {name} \((.*?)\n\);", sql, re.S)
    if table:
        return [
            line.split()[0]
            for line in table[1].strip().splitlines()
            if not line.strip().startswith(("PRIMARY", "--"))
        ]
    view = re.search(
        rf"CREATE MATERIALIZED VIEW {name}.*?AS\s+SELECT (.*?)\s+FROM events", sql, re.S
    )
    assert view, name
    return [re.split(r"\s+AS\s+", c.strip())[-1] for c in re.split(r",\s*\n", view[1])]


@pytest.mark.parametrize("table", ["event_rollups_1m", "user_rollups_1m"])
def test_rollups_have_the_same_columns_in_both_layouts(table: str) -> None:
    # One query API: the same SELECTs run against the tables and the continuous aggregates.
    assert _columns(_sql("0002_events.postgres.sql"), table) == _columns(
        _sql("0002_events.timescale.sql"), table
    )


def test_events_table_is_the_same_in_both_layouts() -> None:
    def table(sql: str) -> str:
        found = re.search(r"CREATE TABLE events \((.*?)\n\)", sql, re.S)
        assert found
        return "\n".join(
            line for line in found[1].splitlines() if not line.strip().startswith("--")
        )

    assert table(_sql("0002_events.postgres.sql")) == table(_sql("0002_events.timescale.sql"))


def test_writer_leaves_rollups_to_timescale() -> None:
    assert "event_rollups_1m" not in insert_statement(StorageMode.TIMESCALE)
    assert "event_rollups_1m" in insert_statement(StorageMode.POSTGRES)
    assert "user_rollups_1m" in insert_statement(StorageMode.POSTGRES)


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _rendered(statements: list[psycopg.sql.Composed], conn: psycopg.Connection) -> list[str]:
    return [s.as_string(conn) for s in statements]


def test_timescale_maintenance_keeps_retention_policies_in_step(database_url: str) -> None:
    project = uuid4()
    statements = maintenance.plan(
        StorageMode.TIMESCALE,
        now=NOW,
        retention=Retention(90, {project: 7}),
        partitions=set(),
        ahead_days=3,
    )
    with psycopg.connect(database_url) as conn:
        text = _rendered(statements, conn)
    policies = [s for s in text if "add_retention_policy" in s]
    assert len(policies) == 1 + len(maintenance.ROLLUP_TABLES)
    for table in ("'events'", *(f"'{t}'" for t in maintenance.ROLLUP_TABLES)):
        assert any(
            table in s and "remove_retention_policy" in s and "'90 days" in s for s in policies
        )
    assert all(
        s.lstrip().startswith("DO $$") and "timescaledb_information.jobs" in s for s in policies
    )
    assert not any("PARTITION OF" in s or "DROP TABLE" in s for s in text)
    deletes = [s for s in text if s.startswith("DELETE")]
    assert len(deletes) == 1
    assert project.hex in deletes[0]


def test_postgres_maintenance_plan(database_url: str) -> None:
    today = NOW.date()
    partitions = {today - timedelta(days=n) for n in range(0, 40)}
    statements = maintenance.plan(
        StorageMode.POSTGRES,
        now=NOW,
        retention=Retention(30, {}),
        partitions=partitions,
        ahead_days=3,
    )
    with psycopg.connect(database_url) as conn:
        text = _rendered(statements, conn)
    created = [s for s in text if "PARTITION OF" in s]
    dropped = [s for s in text if s.startswith("DROP TABLE")]
    assert len(created) == 3  # the days ahead; the past ones exist
    assert len(dropped) == 9  # days 31..39 ago are wholly past 30 days
    assert any(partition_name(today - timedelta(days=31)) in s for s in dropped)
    assert not any(partition_name(today - timedelta(days=30)) in s for s in dropped)


def test_maintenance_applies_retention_for_real(fresh_database: str) -> None:
    migrate(fresh_database, timescale="off")
    now = datetime.now(UTC)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        long_project = create_project(conn, "keeps", retention_days=30)
        short_project = create_project(conn, "forgets", retention_days=3)
        ages = [0, 1, 5, 20, 40]
        days: set[date] = {(now - timedelta(days=a)).date() for a in ages}
        PartitionManager().ensure(conn, days)
        for project in (long_project, short_project):
            for age in ages:
                moment = now - timedelta(days=age)
                conn.execute(
                    "INSERT INTO events (project_id, event_id, timestamp, received_at, type, name, level)"
                    " VALUES (%s, %s, %s, %s, 'event', 'x', 'info')",
                    (project.id, uuid4(), moment, moment),
                )
                conn.execute(
                    "INSERT INTO event_rollups_1m VALUES (%s, date_bin('1 minute', %s::timestamptz, TIMESTAMPTZ '2000-01-01Z'), 'event', 'x', 'info', 1)",
                    (project.id, moment),
                )
        assert (now - timedelta(days=40)).date() in existing_partitions(conn)

    run_maintenance(fresh_database, default_retention_days=30, ahead_days=2)

    with psycopg.connect(fresh_database) as conn:
        partitions = existing_partitions(conn)
        assert (now - timedelta(days=40)).date() not in partitions
        assert (now + timedelta(days=2)).date() in partitions
        kept = count_rows(
            conn, "SELECT count(*) FROM events WHERE project_id = %s", long_project.id
        )
        short = count_rows(
            conn, "SELECT count(*) FROM events WHERE project_id = %s", short_project.id
        )
        short_rollups = count_rows(
            conn, "SELECT count(*) FROM event_rollups_1m WHERE project_id = %s", short_project.id
        )
    assert kept == 4  # 0, 1, 5, 20 days old
    assert short == 2  # 0, 1 days old
    assert short_rollups == 2


def test_maintenance_refuses_an_unmigrated_database(fresh_database: str) -> None:
    with pytest.raises(RuntimeError, match="migrate"):
        run_maintenance(fresh_database, default_retention_days=30, ahead_days=2)


TIMESCALE_API_STAND_IN = """
CREATE SCHEMA timescaledb_information;
CREATE TABLE timescaledb_information.jobs (proc_name name, hypertable_name name, config jsonb);
CREATE TABLE timescaledb_information.continuous_aggregates (
    view_name name, materialization_hypertable_name name);
INSERT INTO timescaledb_information.continuous_aggregates
    SELECT name, '_materialized_hypertable_' || n
    FROM unnest(ARRAY['event_rollups_1m', 'event_rollups_1h', 'page_rollups_1m',
                      'page_rollups_1h', 'user_rollups_1m', 'user_sketches_1h',
                      'user_sketches_1d']) WITH ORDINALITY AS t(name, n);
CREATE TABLE policy_calls (call text);
CREATE FUNCTION remove_retention_policy(relation regclass, if_exists boolean) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO policy_calls VALUES ('remove ' || relation::text);
    DELETE FROM timescaledb_information.jobs WHERE hypertable_name = coalesce(
        (SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates
         WHERE view_name = relation::text), relation::text);
$$;
CREATE FUNCTION add_retention_policy(relation regclass, drop_after interval) RETURNS integer
LANGUAGE sql AS $$
    INSERT INTO policy_calls VALUES ('add ' || relation::text || ' ' || drop_after::text);
    INSERT INTO timescaledb_information.jobs VALUES ('policy_retention', coalesce(
        (SELECT materialization_hypertable_name FROM timescaledb_information.continuous_aggregates
         WHERE view_name = relation::text), relation::text),
        jsonb_build_object('drop_after', drop_after::text));
    SELECT 1;
$$;
"""


def test_timescale_retention_statements_run_and_only_change_what_differs(
    fresh_database: str,
) -> None:
    """TimescaleDB cannot be installed here: its documented retention API (signatures and the
    information views) is stood in for, so the generated PL/pgSQL is executed for real."""
    # Provides events and the rollup tables to point the policies at.
    migrate(fresh_database, timescale="off")

    def run(days: int) -> list[str]:
        statements = maintenance.plan(
            StorageMode.TIMESCALE,
            now=NOW,
            retention=Retention(days, {}),
            partitions=set(),
            ahead_days=1,
        )
        with psycopg.connect(fresh_database, autocommit=True) as conn:
            conn.execute("DELETE FROM policy_calls")
            for statement in statements:
                conn.execute(statement)
            return [r[0] for r in conn.execute("SELECT call FROM policy_calls").fetchall()]

    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(TIMESCALE_API_STAND_IN)
    tables = ("events", *maintenance.ROLLUP_TABLES)
    first = run(30)
    assert sorted(first) == sorted(
        [f"remove {t}" for t in tables] + [f"add {t} 30 days" for t in tables]
    )
    assert run(30) == []  # unchanged retention: the policies are left alone
    assert sorted(run(45)) == sorted(
        [f"remove {t}" for t in tables] + [f"add {t} 45 days" for t in tables]
    )


def test_a_deleted_projects_rows_are_purged_by_maintenance(
    fresh_database: str, settings: Any
) -> None:
    from logsight.processing.batch import BatchProcessor
    from logsight.processing.records import records_from_event
    from logsight.storage.db import Database
    from tests.processor_helpers import message, rmq_event
    from tests.support.api import ApiCaller, make_member

    migrate(fresh_database, timescale="off")
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        kept, gone = create_project(conn, "kept"), create_project(conn, "gone")
        org = conn.execute(
            "SELECT organization_id FROM projects WHERE id = %s", (gone.id,)
        ).fetchone()
        assert org is not None
        admin = make_member(conn, org[0], "admin")
    processor = BatchProcessor(Database(fresh_database), "logsight.events.dead")
    for project in (kept, gone):
        body = message(
            project.id,
            {"name": "x", "user": {"id": "u"}},
            {"type": "error", "error": {"type": "E"}},
        )
        processor.process(records_from_event(rmq_event("logsight.events.0", [body])))
    api = ApiCaller(settings.model_copy(update={"database_url": fresh_database}))
    try:
        assert api("DELETE", f"/api/projects/{gone.id}", token=admin.token).status == 204
    finally:
        api.close()

    run_maintenance(fresh_database, default_retention_days=30, ahead_days=1)

    with psycopg.connect(fresh_database) as conn:
        for table in ("events", *maintenance.ROLLUP_TABLES):
            assert (
                count_rows(conn, f"SELECT count(*) FROM {table} WHERE project_id = %s", gone.id)
                == 0
            ), table
        assert count_rows(conn, "SELECT count(*) FROM events WHERE project_id = %s", kept.id) == 2
        assert (
            count_rows(conn, "SELECT count(*) FROM event_rollups_1m WHERE project_id = %s", kept.id)
            > 0
        )
        assert count_rows(conn, "SELECT count(*) FROM issues WHERE project_id = %s", gone.id) == 0
        assert count_rows(conn, "SELECT count(*) FROM deleted_projects") == 0


def test_timescale_purges_only_what_is_not_a_continuous_aggregate() -> None:
    gone = uuid4()
    statements = maintenance.plan(
        StorageMode.TIMESCALE,
        now=NOW,
        retention=Retention(30, {}, (gone,)),
        partitions=set(),
        ahead_days=1,
    )
    with psycopg.connect(PG_URL) as conn:
        text = [s.as_string(conn) for s in statements if gone.hex in s.as_string(conn)]
    assert [s.split(" WHERE")[0] for s in text] == [
        'DELETE FROM "events"',
        'DELETE FROM "dead_letters"',
        "DELETE FROM deleted_projects",
    ]
