"""What the ingest service holds per process: the local gateway runs 32 environments as threads
of one process, so whatever each thread opens for itself is multiplied by 32."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest

from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.storage.db import Database, Outage
from logsight.storage.keys import KeyStore
from logsight.storage.projects import CreatedProject, create_project
from tests.conftest import PG_ADMIN_URL, migrated_database


@pytest.fixture(scope="module")
def own_database() -> Iterator[str]:
    # Backends are counted per database: nothing else may connect to this one.
    with migrated_database("logsight_conns") as url:
        yield url


def backends(url: str) -> int:
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
            (name, "logsight"),
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_key_lookups_from_many_threads_share_one_connection(
    own_database: str, amqp_url: str
) -> None:
    with psycopg.connect(own_database, autocommit=True) as conn:
        project: CreatedProject = create_project(conn, "conns")
    settings = Settings(database_url=own_database, amqp_url=amqp_url, key_cache_seconds=0)
    service = build_ingest_service(settings)
    start = threading.Barrier(16)

    def lookup(_: int) -> None:
        start.wait(10)
        for _ in range(20):
            assert service.core.lookup_key(project.public_key).project_id == project.id

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lookup, range(16)))
        # Counted while the threads are alive (a thread's own connection dies with it).
        assert backends(own_database) == 1


def test_a_shared_connection_broken_under_one_thread_is_replaced_for_all(
    own_database: str,
) -> None:
    with psycopg.connect(own_database, autocommit=True) as conn:
        project = create_project(conn, "broken")
    # No pause after a failure (Outage(0)): the next look-up goes straight to the database.
    keys = KeyStore(Database(own_database, shared=True), 0, outage=Outage(0))
    assert keys.lookup(project.public_key) is not None
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = 'logsight'",
            (own_database.rsplit("/", 1)[1],),
        )
    # The look-up that meets the dead connection fails (ingest answers 503)...
    with pytest.raises(psycopg.OperationalError):
        keys.lookup(project.public_key)
    # ...and every thread's next one gets a fresh connection, still only one.
    with ThreadPoolExecutor(4) as pool:
        found = list(pool.map(lambda _: keys.lookup(project.public_key), range(8)))
        assert backends(own_database) == 1
    assert all(key is not None and key.project_id == project.id for key in found)
