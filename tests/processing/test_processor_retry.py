"""The processor waits out a database that is down or busy within its invocation, as long as
the function's time allows, instead of spending one of the batch's deliveries on each failure.

The outages are real: a private PostgreSQL cluster stopped and started again, and errors raised
by the machine's server itself (a trigger) with the SQLSTATE of each kind of fault.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from uuid import UUID

import psycopg
import pytest

from logsight.config import Settings
from logsight.local.context import LocalContext
from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.processing.app import build_batch_processor
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import QueueRecord, records_from_event
from logsight.storage.faults import time_left_of
from logsight.storage.migrate import migrate
from logsight.storage.projects import create_project
from tests.conftest import count_rows, migrated_database
from tests.support.processor import message, rmq_event
from tests.support.runtime import private_postgres

SHARD = "logsight.events.0"


@pytest.fixture(scope="module")
def private_pg() -> Iterator[EmbeddedPostgres]:
    with private_postgres("logsight-retry-pg-") as server:
        migrate(server.url, timescale="off")
        yield server


def processor_for(url: str, **settings: float) -> BatchProcessor:
    return build_batch_processor(Settings(database_url=url, **settings))  # type: ignore[arg-type]


def batch(project_id: UUID, *names: str) -> list[QueueRecord]:
    body = message(project_id, *({"name": name} for name in names))
    return records_from_event(rmq_event(SHARD, [body]))


def stored(url: str, project_id: UUID) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return count_rows(conn, "SELECT count(*) FROM events WHERE project_id = %s", project_id)


@pytest.mark.slow
def test_a_database_restarted_during_the_invocation_is_waited_for(
    private_pg: EmbeddedPostgres,
) -> None:
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        project = create_project(conn, "restarted").id
    processor = processor_for(
        private_pg.url, processor_retry_seconds=60, processor_retry_margin_seconds=5
    )
    # A warm execution environment: its connection was made before the outage.
    assert processor.process(batch(project, "before")).inserted == 1

    private_pg.stop()
    restart = threading.Timer(3, private_pg.start)
    restart.start()
    began = time.monotonic()
    try:
        outcome = processor.process(
            batch(project, "during", "outage"),
            time_left_of(LocalContext("logsight-processor", 60)),
        )
    finally:
        restart.join()
    waited = time.monotonic() - began

    assert waited >= 3
    assert (outcome.inserted, outcome.dead_letters) == (2, [])
    assert stored(private_pg.url, project) == 3


@pytest.mark.slow
def test_it_gives_up_before_the_function_times_out(private_pg: EmbeddedPostgres) -> None:
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        project = create_project(conn, "down").id
    processor = processor_for(
        private_pg.url, processor_retry_seconds=60, processor_retry_margin_seconds=2
    )
    private_pg.stop()
    try:
        began = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            processor.process(
                batch(project, "never"), time_left_of(LocalContext("logsight-processor", 6))
            )
        took = time.monotonic() - began
    finally:
        private_pg.start()
    # It kept trying (0.5, 1, 2 s apart), and raised with more than the margin left, so that
    # the batch goes back to the queue rather than the invocation timing out.
    assert 3 <= took < 6 - 2 + 0.5
    assert stored(private_pg.url, project) == 0


@pytest.fixture(scope="module")
def fault_database() -> Iterator[str]:
    with migrated_database("logsight_retry") as url:
        yield url


def inject(url: str, sqlstate: str, times: int) -> None:
    """The next ``times`` inserts into events fail with ``sqlstate``, raised by the server."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER IF EXISTS injected_fault ON events")
        conn.execute("DROP SEQUENCE IF EXISTS injected_fault_seq")
        conn.execute("CREATE SEQUENCE injected_fault_seq")
        # nextval is not rolled back with the failed transaction: it counts the attempts.
        conn.execute(
            f"""
            CREATE OR REPLACE FUNCTION injected_fault() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                IF nextval('injected_fault_seq') <= {times} THEN
                    RAISE EXCEPTION 'injected fault' USING ERRCODE = '{sqlstate}';
                END IF;
                RETURN NULL;
            END $$
            """  # type: ignore[arg-type]
        )
        conn.execute(
            "CREATE TRIGGER injected_fault BEFORE INSERT ON events"
            " FOR EACH STATEMENT EXECUTE FUNCTION injected_fault()"
        )


def attempts(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP TRIGGER injected_fault ON events")
        return count_rows(conn, "SELECT last_value FROM injected_fault_seq")


@pytest.mark.parametrize(
    "sqlstate",
    [
        "40001",  # serialization failure
        "40P01",  # deadlock detected
        "53100",  # disk full
        "53300",  # too many connections
        "57P01",  # administrator shutdown
        "08006",  # connection failure
    ],
)
def test_transient_faults_are_retried_within_the_invocation(
    fault_database: str, sqlstate: str
) -> None:
    with psycopg.connect(fault_database, autocommit=True) as conn:
        project = create_project(conn, f"fault {sqlstate}").id
    processor = processor_for(fault_database, processor_retry_seconds=30)
    inject(fault_database, sqlstate, times=2)
    outcome = processor.process(batch(project, "a", "b"))
    assert attempts(fault_database) == 3
    assert (outcome.inserted, outcome.dead_letters) == (2, [])
    assert stored(fault_database, project) == 2


def test_other_errors_are_not_retried(fault_database: str) -> None:
    with psycopg.connect(fault_database, autocommit=True) as conn:
        project = create_project(conn, "no retry").id
    processor = processor_for(fault_database, processor_retry_seconds=30)
    inject(fault_database, "42501", times=5)  # insufficient privilege: retrying cannot help
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        processor.process(batch(project, "a"))
    assert attempts(fault_database) == 1
