"""Choosing the storage layout on servers whose extensions the tests decide (private clusters,
tests.support.private_postgres), so nothing depends on what the machine's PostgreSQL has:
TimescaleDB absent, and TimescaleDB installed but not preloaded, whose CREATE EXTENSION ends
the session the way the real one does."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.storage.migrate import MigrationError, available_files, choose_mode, migrate, plan
from logsight.storage.mode import StorageMode, recorded_mode
from tests.support.private_postgres import TIMESCALE_NOT_PRELOADED, cluster

pytestmark = pytest.mark.slow

MIGRATION_LOG = "logsight.storage.migrate"


@pytest.fixture(scope="module")
def without_timescale() -> Iterator[EmbeddedPostgres]:
    with cluster({}) as server:
        yield server


@pytest.fixture(scope="module")
def not_preloaded() -> Iterator[EmbeddedPostgres]:
    with cluster(TIMESCALE_NOT_PRELOADED) as server:
        yield server


def new_database(server: EmbeddedPostgres, owner: str | None = None) -> str:
    """A fresh database of ``server`` (owned by ``owner``, a plain role, if given); its URL."""
    name = f"modes_{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    with psycopg.connect(server.superuser_url, autocommit=True) as conn:
        if owner is not None:
            conn.execute(f"CREATE ROLE \"{owner}\" LOGIN PASSWORD '{password}'")  # type: ignore[arg-type]
        conn.execute(
            f'CREATE DATABASE "{name}"' + (f' OWNER "{owner}"' if owner else "")  # type: ignore[arg-type]
        )
    base = server.superuser_url.rsplit("/", 1)[0]
    if owner is not None:
        base = f"postgresql://{owner}:{password}@{base.rsplit('@', 1)[1]}"
    return f"{base}/{name}"


def plain_layout() -> list[str]:
    return [m.filename for m in plan(available_files(), StorageMode.POSTGRES)]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == MIGRATION_LOG and r.levelno >= logging.WARNING
    ]


def test_without_timescaledb_auto_is_plain_and_on_is_refused(
    without_timescale: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = new_database(without_timescale)
    with psycopg.connect(url, autocommit=True) as conn:
        assert choose_mode(conn, "off", url) is StorageMode.POSTGRES
        with pytest.raises(MigrationError, match="not available"):
            choose_mode(conn, "on", url)
    assert migrate(url, timescale="auto") == plain_layout()
    assert not warnings_of(caplog)


def test_not_preloaded_auto_migrates_plain_and_says_how_to_enable_it(
    not_preloaded: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    url = new_database(not_preloaded)
    assert migrate(url, timescale="auto") == plain_layout()
    with psycopg.connect(url) as conn:
        assert recorded_mode(conn) is StorageMode.POSTGRES
    [line] = warnings_of(caplog)
    assert "\n" not in line
    assert "using plain PostgreSQL" in line
    assert "add timescaledb to shared_preload_libraries" in line
    assert "restart PostgreSQL" in line


def test_not_preloaded_on_is_refused_with_the_fix(not_preloaded: EmbeddedPostgres) -> None:
    url = new_database(not_preloaded)
    with pytest.raises(MigrationError, match=r"not preloaded.*shared_preload_libraries.*restart"):
        migrate(url, timescale="on")
    with psycopg.connect(url) as conn:
        assert recorded_mode(conn) is None


def test_a_session_ended_by_create_extension_does_not_stop_the_migration(
    not_preloaded: EmbeddedPostgres, caplog: pytest.LogCaptureFixture
) -> None:
    # A role that may not read shared_preload_libraries (no pg_read_all_settings) can only
    # find out by creating the extension, which ends that session.
    url = new_database(not_preloaded, owner=f"migrator_{uuid.uuid4().hex[:6]}")
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("SHOW shared_preload_libraries")
    assert migrate(url, timescale="auto") == plain_layout()
    with psycopg.connect(url) as conn:
        assert recorded_mode(conn) is StorageMode.POSTGRES
    [line] = warnings_of(caplog)
    assert "ended the session" in line
    assert "add timescaledb to shared_preload_libraries" in line
    with pytest.raises(MigrationError, match="shared_preload_libraries"):
        migrate(
            new_database(not_preloaded, owner=f"migrator_{uuid.uuid4().hex[:6]}"), timescale="on"
        )
