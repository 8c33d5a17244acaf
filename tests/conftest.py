"""Shared fixtures: every run gets its own PostgreSQL database and RabbitMQ vhost.

The PostgreSQL server and the storage layout come from the environment (README, "Development"):
``LOGSIGHT_TEST_DATABASE_URL`` (a URL of the server's maintenance database, whose role may create
databases) and ``LOGSIGHT_TEST_TIMESCALE`` (``off``: plain PostgreSQL, the default; ``on``:
TimescaleDB, which the server must have installed and preloaded).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import amqp
import psycopg
import pytest

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect
from logsight.queue.topology import ensure_topology
from logsight.storage.migrate import migrate
from logsight.storage.mode import (
    StorageMode,
    recorded_mode,
    timescale_available,
    timescale_preloaded,
)
from logsight.storage.projects import CreatedProject, create_project

# The shared helpers assert too: their failures read like the tests' own.
pytest.register_assert_rewrite("tests.support")

PG_ADMIN_URL = os.environ.get(
    "LOGSIGHT_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The layout of every database the tests migrate on that server: the value of
# LOGSIGHT_TIMESCALE they pass to migrate().
TEST_TIMESCALE = os.environ.get("LOGSIGHT_TEST_TIMESCALE", "off")
TEST_LAYOUT = StorageMode.TIMESCALE if TEST_TIMESCALE == "on" else StorageMode.POSTGRES
AMQP_BASE = "amqp://guest:guest@127.0.0.1:5672"
_CONNECT_TIMEOUT = 10


def pytest_configure(config: pytest.Config) -> None:
    """Refuse at once a layout the server cannot give, rather than failing test by test."""
    if TEST_TIMESCALE not in ("on", "off"):
        pytest.exit(f"LOGSIGHT_TEST_TIMESCALE must be on or off, not {TEST_TIMESCALE!r}", 4)
    if TEST_TIMESCALE == "off":
        return
    parts = urlsplit(PG_ADMIN_URL)
    server = f"the PostgreSQL server at {parts.hostname or 'localhost'}:{parts.port or 5432}"
    try:
        with psycopg.connect(PG_ADMIN_URL, connect_timeout=_CONNECT_TIMEOUT) as conn:
            available = timescale_available(conn)
            preloaded = timescale_preloaded(conn)
    except psycopg.Error as exc:
        pytest.exit(f"LOGSIGHT_TEST_TIMESCALE=on: cannot reach {server}: {exc}", 4)
    if not available:
        pytest.exit(
            f"LOGSIGHT_TEST_TIMESCALE=on but {server} has no timescaledb extension: point "
            "LOGSIGHT_TEST_DATABASE_URL at a TimescaleDB server, or set LOGSIGHT_TEST_TIMESCALE=off",
            4,
        )
    if preloaded is False:
        pytest.exit(
            f"LOGSIGHT_TEST_TIMESCALE=on but {server} does not preload timescaledb "
            "(shared_preload_libraries)",
            4,
        )


def database_url_for(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    return urlunsplit(urlsplit(PG_ADMIN_URL)._replace(path=f"/{name}"))


def create_database(prefix: str = "logsight_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    return database_url_for(name)


def drop_database(url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=_CONNECT_TIMEOUT) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]


def migrate_test_database(url: str) -> list[str]:
    """Migrate a database of the test server in the layout under test."""
    return migrate(url, timescale=TEST_TIMESCALE)


@contextlib.contextmanager
def migrated_database(prefix: str) -> Iterator[str]:
    """A database of its own on the test server, migrated in the layout under test; dropped
    after."""
    url = create_database(prefix)
    try:
        migrate_test_database(url)
        yield url
    finally:
        drop_database(url)


# What `logsight local` needs to migrate a database of the test server in the layout under test.
RUNTIME_ENV = {"LOGSIGHT_TIMESCALE": TEST_TIMESCALE}


def create_vhost(prefix: str = "logsight-test") -> str:
    vhost = f"{prefix}-{uuid.uuid4().hex[:10]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        check=True,
        capture_output=True,
    )
    return f"{AMQP_BASE}/{vhost}"


def delete_vhost(url: str) -> None:
    vhost = url.rsplit("/", 1)[1]
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True)


def list_queues(url: str, *columns: str) -> dict[str, list[str]]:
    """The vhost's queues as the broker lists them: name → the other ``columns``."""
    vhost = url.rsplit("/", 1)[1]
    listing = subprocess.run(
        ["rabbitmqctl", "-q", "--no-table-headers", "list_queues", "-p", vhost, "name", *columns],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    rows = [line.split("\t") for line in listing.strip().splitlines()]
    return {row[0]: row[1:] for row in rows}


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    url = create_database()
    migrate_test_database(url)
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def layout(database_url: str) -> StorageMode:
    """The layout the session database was migrated to, as the database records it."""
    with psycopg.connect(database_url) as conn:
        mode = recorded_mode(conn)
    assert mode is not None
    return mode


@pytest.fixture(scope="session")
def amqp_url() -> Iterator[str]:
    url = create_vhost()
    ensure_topology(Settings(amqp_url=url))
    yield url
    delete_vhost(url)


@pytest.fixture
def settings(database_url: str, amqp_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        amqp_url=amqp_url,
        key_cache_seconds=0,
        publish_timeout_seconds=3,
        connect_timeout_seconds=1,
    )


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def project(db: psycopg.Connection) -> CreatedProject:
    return create_project(db, f"project {uuid.uuid4().hex[:8]}")


@pytest.fixture
def broker(amqp_url: str) -> Iterator[amqp.Channel]:
    connection = connect(amqp_url, connect_timeout=3, heartbeat=0)
    try:
        yield connection.channel()
    finally:
        close_quietly(connection)


def purge(channel: amqp.Channel, settings: Settings) -> None:
    for shard in range(settings.shards):
        channel.queue_purge(settings.shard_queue(shard))
    channel.queue_purge(settings.dead_letter_queue)


def drain(channel: amqp.Channel, queue: str, *, ack: bool = True) -> list[amqp.Message]:
    messages = []
    while (message := channel.basic_get(queue, no_ack=ack)) is not None:
        messages.append(message)
    return messages


def count_rows(conn: psycopg.Connection, sql: str, *params: Any) -> int:
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return int(row[0])
