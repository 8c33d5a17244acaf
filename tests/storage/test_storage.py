"""Migrations, storage layouts and maintenance, on the server and in the layout the suite runs
against (tests/conftest.py: plain PostgreSQL here; TimescaleDB when LOGSIGHT_TEST_TIMESCALE=on).
The statements of the other layout are checked by what maintenance chooses and by parsing the
migrations (pglast, PostgreSQL's own parser): TimescaleDB's catalog is never imitated. Choosing
the layout: tests/storage/test_storage_modes.py."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from pglast import ast, parse_plpgsql, parse_sql
from pglast.enums.parsenodes import ObjectType
from pglast.visitors import Visitor

from logsight.storage import maintenance
from logsight.storage import migrate as migrate_module
from logsight.storage.maintenance import Retention, run_maintenance
from logsight.storage.migrate import MigrationError, available_files, migrate, plan
from logsight.storage.mode import StorageMode, recorded_mode
from logsight.storage.partitions import PartitionManager, existing_partitions, partition_name
from logsight.storage.projects import create_project
from tests.conftest import (
    PG_ADMIN_URL,
    TEST_LAYOUT,
    count_rows,
    create_database,
    drop_database,
    migrate_test_database,
)

timescale_only = pytest.mark.skipif(
    TEST_LAYOUT is not StorageMode.TIMESCALE,
    reason="needs a TimescaleDB server (LOGSIGHT_TEST_TIMESCALE=on)",
)
postgres_only = pytest.mark.skipif(
    TEST_LAYOUT is not StorageMode.POSTGRES,
    reason="daily partitions are the plain PostgreSQL layout",
)


@pytest.fixture
def fresh_database() -> Iterator[str]:
    url = create_database("logsight_storage")
    yield url
    drop_database(url)


def test_migrate_is_idempotent_and_recorded(fresh_database: str) -> None:
    applied = migrate_test_database(fresh_database)
    assert applied == [m.filename for m in plan(available_files(), TEST_LAYOUT)]
    assert applied[:2] == ["0001_tenancy.sql", f"0002_events.{TEST_LAYOUT.value}.sql"]
    assert migrate_test_database(fresh_database) == []
    with psycopg.connect(fresh_database) as conn:
        assert recorded_mode(conn) is TEST_LAYOUT
        rows = conn.execute("SELECT version, filename FROM schema_migrations ORDER BY 1").fetchall()
    assert [filename for _, filename in rows] == applied


def test_concurrent_migrations_apply_each_file_once(fresh_database: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate_test_database(fresh_database))
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


def _queries_of(plpgsql: Any) -> Iterator[str]:
    """The SQL inside a parsed PL/pgSQL body, each as a statement PostgreSQL can parse."""
    if isinstance(plpgsql, dict):
        if "PLpgSQL_expr" in plpgsql:
            expr = plpgsql["PLpgSQL_expr"]
            # parseMode (PostgreSQL's RawParseMode): 0 a statement, 2 an expression,
            # 3 to 5 an assignment "target := expression".
            mode, query = expr.get("parseMode", 0), expr["query"]
            if mode == 0:
                yield query
            elif mode == 2:
                yield f"SELECT {query}"
            elif mode in (3, 4, 5):
                yield f"SELECT {query.split(':=', 1)[1]}"
        for value in plpgsql.values():
            yield from _queries_of(value)
    elif isinstance(plpgsql, list):
        for value in plpgsql:
            yield from _queries_of(value)


@pytest.mark.parametrize("filename", sorted(available_files()))
def test_every_migration_parses(filename: str) -> None:
    """The TimescaleDB variants cannot run on a server without TimescaleDB: PostgreSQL's parser
    checks at least their syntax, PL/pgSQL bodies and the SQL within them included."""
    sql = _sql(filename)
    parse_sql(sql)
    for body in parse_plpgsql(sql):
        for query in _queries_of(body):
            parse_sql(query)


class _Jobs(Visitor):
    """Relations a migration gives a TimescaleDB background job (a policy, or a continuous
    aggregate's refresh), and relations it drops, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []  # ("job" | "drop", relation)

    def visit_FuncCall(self, ancestors: Any, node: ast.FuncCall) -> None:
        name = node.funcname[-1].sval
        if re.fullmatch(r"add_\w+_policy", name) and node.args:
            first = node.args[0]
            if isinstance(first, ast.A_Const) and isinstance(first.val, ast.String):
                self.events.append(("job", first.val.sval))

    def visit_CreateTableAsStmt(self, ancestors: Any, node: ast.CreateTableAsStmt) -> None:
        options = node.into.options or ()
        if any(o.defnamespace == "timescaledb" and o.defname == "continuous" for o in options):
            self.events.append(("job", node.into.rel.relname))

    def visit_DropStmt(self, ancestors: Any, node: ast.DropStmt) -> None:
        if node.removeType in (ObjectType.OBJECT_TABLE, ObjectType.OBJECT_MATVIEW):
            for names in node.objects:
                self.events.append(("drop", names[-1].sval))


@pytest.mark.parametrize("mode", list(StorageMode))
def test_no_migration_drops_what_an_earlier_one_gave_a_background_job(mode: StorageMode) -> None:
    """A background job (TimescaleDB's scheduler starts a new policy at once) must never touch
    what a later migration drops: on a fresh database both run back to back, and the job raced
    the drop (`tuple concurrently deleted`)."""
    with_jobs: dict[str, str] = {}
    for migration in plan(available_files(), mode):
        finder = _Jobs()
        finder(parse_sql(migration.sql))
        for kind, relation in finder.events:
            if kind == "job":
                with_jobs.setdefault(relation, migration.filename)
            else:
                assert relation not in with_jobs, (
                    f"{migration.filename} drops {relation}, which {with_jobs[relation]} gave a "
                    "background job"
                )


def test_timescale_layout_keeps_rollups_in_hypertables_like_events() -> None:
    files = plan(available_files(), StorageMode.TIMESCALE)
    every = "\n".join(m.sql for m in files)
    assert "timescaledb.continuous" not in every.replace("'", "")  # no continuous aggregate
    assert "add_retention_policy" not in every  # `logsight maintain` drops chunks itself
    events = _sql("0002_events.timescale.sql")
    assert re.search(
        r"create_hypertable\(\s*'events', 'timestamp',\s*chunk_time_interval => INTERVAL '1 day'",
        events,
    )
    assert "timescaledb.compress_segmentby = 'project_id'" in events
    assert "add_compression_policy('events', INTERVAL '7 days'" in events
    assert "PARTITION BY" not in events
    rollups = _sql("0014_rollup_tables.timescale.sql") + _sql("0030_logs.timescale.sql")
    for table in maintenance.ROLLUP_TABLES:
        assert re.search(
            rf"create_hypertable\('{table}', 'bucket', chunk_time_interval => INTERVAL '1 day'",
            rollups,
        ), table
        assert re.search(
            rf"ALTER TABLE {table} SET \(\s*timescaledb.compress,\s*"
            r"timescaledb.compress_segmentby = 'project_id'",
            rollups,
        ), table
        assert f"add_compression_policy('{table}', INTERVAL '7 days'" in rollups, table


def _table_body(sql: str, name: str) -> str:
    found = re.search(rf"CREATE TABLE {name} \((.*?)\n\)", sql, re.S)
    assert found, name
    return "\n".join(line for line in found[1].splitlines() if not line.strip().startswith("--"))


@pytest.mark.parametrize(("table", "migration"), [("events", "0002_events"), ("logs", "0030_logs")])
def test_row_tables_are_the_same_in_both_layouts(table: str, migration: str) -> None:
    assert _table_body(_sql(f"{migration}.postgres.sql"), table) == _table_body(
        _sql(f"{migration}.timescale.sql"), table
    )


def test_timescale_logs_are_a_compressed_hypertable_like_events() -> None:
    logs = _sql("0030_logs.timescale.sql")
    assert re.search(
        r"create_hypertable\(\s*'logs', 'timestamp',\s*chunk_time_interval => INTERVAL '1 day'",
        logs,
    )
    assert "add_compression_policy('logs', INTERVAL '7 days'" in logs
    assert "PARTITION BY" not in logs


@pytest.mark.parametrize("table", [t for t in maintenance.ROLLUP_TABLES if t != "event_rollups_1m"])
def test_rollup_tables_are_the_same_in_both_layouts(table: str) -> None:
    # One writer and one query API: the same statements run on both. (event_rollups_1m gained
    # its release column by ALTER TABLE on plain PostgreSQL: tests/query/test_query_rollups.py.)
    plain = (
        _sql("0002_events.postgres.sql")
        + _sql("0005_query_rollups.postgres.sql")
        + _sql("0030_logs.postgres.sql")
    )
    timescale = _sql("0014_rollup_tables.timescale.sql") + _sql("0030_logs.timescale.sql")
    assert _table_body(plain, table) == _table_body(timescale, table)


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _rendered(statements: list[psycopg.sql.Composed]) -> list[str]:
    with psycopg.connect(PG_ADMIN_URL) as conn:
        return [s.as_string(conn) for s in statements]


def test_timescale_maintenance_drops_chunks_at_the_day_boundary() -> None:
    project = uuid4()
    text = _rendered(
        maintenance.plan(
            StorageMode.TIMESCALE,
            now=NOW,
            retention=Retention(90, {project: 7}),
            partitions=set(),
            ahead_days=3,
        )
    )
    drops = [s for s in text if "drop_chunks" in s]
    # 90 days before 2026-11-27 is 2026-08-29: that day is kept, the chunks before it go.
    assert drops == [
        f"SELECT drop_chunks('{t}', older_than => '2026-08-29 00:00:00+00:00'::timestamptz)"
        for t in ("events", "logs", *maintenance.ROLLUP_TABLES)
    ]
    assert not any("policy" in s or "PARTITION OF" in s or "DROP TABLE" in s for s in text)
    deletes = [s for s in text if s.startswith("DELETE")]
    assert len(deletes) == 2 + len(maintenance.ROLLUP_TABLES)
    assert all(project.hex in s and "'2026-11-20 00:00:00+00:00'" in s for s in deletes)
    assert "UPDATE issues" in text[-1]


def test_postgres_maintenance_plan() -> None:
    today = NOW.date()
    partitions = {today - timedelta(days=n) for n in range(0, 40)}
    text = _rendered(
        maintenance.plan(
            StorageMode.POSTGRES,
            now=NOW,
            retention=Retention(30, {}),
            partitions=partitions,
            ahead_days=3,
        )
    )
    created = [s for s in text if "PARTITION OF" in s]
    dropped = [s for s in text if s.startswith("DROP TABLE")]
    # Log lines are partitioned on the same days as events.
    assert len(created) == 2 * 3  # the days ahead; the past ones exist
    assert len(dropped) == 2 * 9  # days 31..39 ago are wholly past 30 days
    for table in ("events", "logs"):
        assert any(partition_name(today - timedelta(days=31), table) in s for s in dropped)
        assert not any(partition_name(today - timedelta(days=30), table) in s for s in dropped)
    # The rollups follow at the same boundary: the first day kept.
    rollups = [s for s in text if s.startswith("DELETE")]
    assert len(rollups) == len(maintenance.ROLLUP_TABLES)
    assert all("bucket < '2026-10-28 00:00:00+00:00'" in s for s in rollups)
    assert "UPDATE issues" in text[-1]


@pytest.mark.parametrize("mode", list(StorageMode))
def test_a_deleted_project_is_purged_from_every_table_in_both_layouts(mode: StorageMode) -> None:
    gone = uuid4()
    text = _rendered(
        maintenance.plan(
            mode, now=NOW, retention=Retention(30, {}, (gone,)), partitions=set(), ahead_days=1
        )
    )
    purges = [s.split(" WHERE")[0] for s in text if gone.hex in s and s.startswith("DELETE")]
    assert purges == [
        f'DELETE FROM "{t}"' for t in ("events", "logs", "dead_letters", *maintenance.ROLLUP_TABLES)
    ] + ["DELETE FROM deleted_projects"]


def _insert_event(conn: psycopg.Connection, project_id: Any, moment: datetime) -> None:
    """An event with its rollups, as the processor writes them."""
    conn.execute(
        "INSERT INTO events (project_id, event_id, timestamp, received_at, type, name, level)"
        " VALUES (%s, %s, %s, %s, 'event', 'x', 'info')",
        (project_id, uuid4(), moment, moment),
    )
    conn.execute(
        "INSERT INTO event_rollups_1m (project_id, bucket, type, name, level, events)"
        " VALUES (%s, date_bin('1 minute', %s::timestamptz, TIMESTAMPTZ '2000-01-01Z'),"
        " 'event', 'x', 'info', 1)",
        (project_id, moment),
    )


def test_maintenance_applies_retention_for_real(fresh_database: str) -> None:
    migrate_test_database(fresh_database)
    now = datetime.now(UTC)
    ages = [0, 1, 5, 20, 40]
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        long_project = create_project(conn, "keeps", retention_days=30)
        short_project = create_project(conn, "forgets", retention_days=3)
        if TEST_LAYOUT is StorageMode.POSTGRES:
            PartitionManager().ensure(conn, {(now - timedelta(days=a)).date() for a in ages})
        for project in (long_project, short_project):
            for age in ages:
                _insert_event(conn, project.id, now - timedelta(days=age))

    run_maintenance(fresh_database, default_retention_days=30, ahead_days=2)

    def count(table: str, project_id: Any) -> int:
        return count_rows(conn, f"SELECT count(*) FROM {table} WHERE project_id = %s", project_id)

    with psycopg.connect(fresh_database) as conn:
        for table in ("events", "event_rollups_1m"):
            assert count(table, long_project.id) == 4, table  # 0, 1, 5, 20 days old
            assert count(table, short_project.id) == 2, table  # 0, 1 days old
        if TEST_LAYOUT is StorageMode.POSTGRES:
            partitions = existing_partitions(conn)
            assert (now - timedelta(days=40)).date() not in partitions
            assert (now + timedelta(days=2)).date() in partitions


def test_retention_keeps_whole_days_in_both_layouts(fresh_database: str) -> None:
    """Whatever the time of day, the first day kept is whole, and the day before it gone,
    for events and rollups alike (TimescaleDB's 1-day chunks are UTC days)."""
    migrate_test_database(fresh_database)
    now = datetime.now(UTC)
    first_kept = datetime.combine(now.date() - timedelta(days=3), datetime.min.time(), UTC)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        long_project = create_project(conn, "keeps", retention_days=3)
        short_project = create_project(conn, "forgets", retention_days=2)
        moments = [first_kept - timedelta(seconds=1), first_kept, first_kept + timedelta(hours=23)]
        if TEST_LAYOUT is StorageMode.POSTGRES:
            PartitionManager().ensure(conn, {m.date() for m in moments})
        for project in (long_project, short_project):
            for moment in moments:
                _insert_event(conn, project.id, moment)

    run_maintenance(fresh_database, default_retention_days=30, ahead_days=1)

    with psycopg.connect(fresh_database) as conn:
        for table, column in (("events", "timestamp"), ("event_rollups_1m", "bucket")):
            kept = conn.execute(
                f"SELECT project_id, min({column}), count(*) FROM {table} GROUP BY 1".encode()
            ).fetchall()
            assert {(p, m.astimezone(UTC), n) for p, m, n in kept} == {
                (long_project.id, first_kept, 2)
            }, table


def test_maintenance_refuses_an_unmigrated_database(fresh_database: str) -> None:
    with pytest.raises(RuntimeError, match="migrate"):
        run_maintenance(fresh_database, default_retention_days=30, ahead_days=2)


def test_a_deleted_projects_rows_are_purged_by_maintenance(
    fresh_database: str, settings: Any
) -> None:
    from logsight.processing.batch import BatchProcessor
    from logsight.processing.records import records_from_event
    from logsight.storage.db import Database
    from tests.support.api import ApiCaller, make_member
    from tests.support.processor import message, rmq_event

    migrate_test_database(fresh_database)
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
        for table in ("events", *maintenance.ROLLUP_TABLES, "issue_days"):
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


# Migrations of the runner's own tests (``files=``): plain SQL, any layout.


def test_a_revised_migration_is_not_reported_as_changed_where_the_earlier_text_was_applied(
    fresh_database: str, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = {"0001_a.sql": "CREATE TABLE a (x int);"}
    migrate(fresh_database, timescale="off", files=first)
    revised = {"0001_a.sql": "CREATE TABLE a (x int); -- revised"}
    with caplog.at_level(logging.WARNING, logger="logsight.storage.migrate"):
        migrate(fresh_database, timescale="off", files=revised)
    # Warnings only: an earlier test may have left the logger at INFO ("applied migration ...").
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "migration 0001_a.sql changed after it was applied"
    ]
    caplog.clear()
    earlier = migrate_module.Migration("0001", "a", "0001_a.sql", first["0001_a.sql"]).checksum
    monkeypatch.setitem(migrate_module.REVISED, "0001_a.sql", frozenset({earlier}))
    with caplog.at_level(logging.WARNING, logger="logsight.storage.migrate"):
        assert migrate(fresh_database, timescale="off", files=revised) == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_the_revised_timescale_migrations_name_their_earlier_texts() -> None:
    files = available_files()
    for filename, earlier in migrate_module.REVISED.items():
        assert filename in files
        current = migrate_module.Migration("", "", filename, files[filename]).checksum
        assert earlier and current not in earlier


def test_a_migration_that_loses_a_deadlock_is_tried_again(
    fresh_database: str, caplog: pytest.LogCaptureFixture
) -> None:
    """What a TimescaleDB background job can do to a migration: take a lock the migration
    needs while waiting for one it holds. PostgreSQL ends the deadlock by rolling back one side;
    when that is the migration, it is applied again."""
    with psycopg.connect(fresh_database, autocommit=True) as setup:
        setup.execute("CREATE TABLE a (x int); CREATE TABLE b (x int)")
    files = {"0001_both.sql": "LOCK TABLE a; SELECT pg_sleep(0.2); LOCK TABLE b;"}
    other = psycopg.connect(fresh_database)
    try:
        # The other side checks for a deadlock only long after the migration does, so the
        # migration is the one rolled back.
        try:
            other.execute("SET deadlock_timeout = '20s'")
        except psycopg.errors.InsufficientPrivilege:
            pytest.skip("setting deadlock_timeout needs a superuser on the test server")
        other.execute("LOCK TABLE b")
        done: list[list[str]] = []
        runner = threading.Thread(
            target=lambda: done.append(migrate(fresh_database, timescale="off", files=files))
        )
        with caplog.at_level(logging.WARNING, logger="logsight.storage.migrate"):
            runner.start()
            _wait_for_lock_wait(other, "b")
            other.execute("LOCK TABLE a")  # the cycle: the migration is rolled back
            time.sleep(0.5)
            other.commit()  # the second attempt now goes through
            runner.join(30)
    finally:
        other.close()
    assert done == [["0001_both.sql"]]
    assert any("rolled back by a deadlock" in r.getMessage() for r in caplog.records)


def _wait_for_lock_wait(conn: psycopg.Connection, table: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = conn.execute(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = %s::regclass",
            (table,),
        ).fetchone()
        if row and row[0]:
            return
        time.sleep(0.05)
    raise AssertionError(f"nobody waited for {table}")


# TimescaleDB for real: run when the suite is pointed at a TimescaleDB server.


def _jobs(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT job_id, proc_name, hypertable_name, config FROM timescaledb_information.jobs"
        " WHERE hypertable_schema = current_schema() ORDER BY job_id"
    ).fetchall()


@timescale_only
def test_timescale_layout_for_real(fresh_database: str) -> None:
    migrate_test_database(fresh_database)
    with psycopg.connect(fresh_database) as conn:
        assert conn.execute(
            "SELECT count(*) FROM timescaledb_information.continuous_aggregates"
        ).fetchone() == (0,)
        tables = {"events", *maintenance.ROLLUP_TABLES}
        hypertables = conn.execute(
            "SELECT h.hypertable_name, h.compression_enabled, d.time_interval"
            " FROM timescaledb_information.hypertables h"
            " JOIN timescaledb_information.dimensions d USING (hypertable_schema, hypertable_name)"
            " WHERE h.hypertable_schema = current_schema()"
        ).fetchall()
        assert {(name, enabled, interval) for name, enabled, interval in hypertables} == {
            (t, True, timedelta(days=1)) for t in tables
        }
        jobs = _jobs(conn)
        # One job per table, the compression policy; nothing else runs in the background.
        assert sorted(hypertable for _, _, hypertable, _ in jobs) == sorted(tables)
        assert not any("retention" in proc or "refresh" in proc for _, proc, _, _ in jobs)


@timescale_only
def test_timescale_maintenance_changes_no_job(fresh_database: str) -> None:
    migrate_test_database(fresh_database)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        create_project(conn, "p", retention_days=10)
        before = _jobs(conn)
    for days in (30, 30, 45):
        run_maintenance(fresh_database, default_retention_days=days, ahead_days=1)
    with psycopg.connect(fresh_database) as conn:
        assert _jobs(conn) == before


@timescale_only
def test_timescale_drops_old_chunks_of_events_and_rollups(fresh_database: str) -> None:
    migrate_test_database(fresh_database)
    now = datetime.now(UTC)
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        project = create_project(conn, "p", retention_days=5)
        for age in (0, 4, 6, 9):
            _insert_event(conn, project.id, now - timedelta(days=age))
    run_maintenance(fresh_database, default_retention_days=30, ahead_days=1)
    first_kept = datetime.combine(now.date() - timedelta(days=5), datetime.min.time(), UTC)
    with psycopg.connect(fresh_database) as conn:
        for table in ("events", "event_rollups_1m"):
            left = conn.execute(
                "SELECT count(*) FROM show_chunks(%s::regclass, older_than => %s::timestamptz)",
                (table, first_kept),
            ).fetchone()
            assert left == (0,), table
