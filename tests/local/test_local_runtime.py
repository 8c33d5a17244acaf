"""The whole pipeline through `logsight local`: gateway → RabbitMQ → pollers → PostgreSQL."""

from __future__ import annotations

import os
import pwd
import random
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from logsight.local.runtime import deliver_admin_password
from tests.conftest import count_rows, create_vhost, delete_vhost
from tests.support.other_user import can_read, outsider, psql, requires_root
from tests.support.runtime import LocalLogSight

pytestmark = pytest.mark.slow

# What the runtime keeps in its data directory that nobody else may read.
SECRETS = (
    "runtime.json",
    "admin-password.txt",
    "keys/signing-keys.json",
    "postgres/superuser.password",
    "postgres/app.password",
    "postgres/postgresql.log",
)


@pytest.fixture(scope="module")
def runtime() -> Iterator[LocalLogSight]:
    """The default configuration: no LOGSIGHT_DATABASE_URL, so the embedded PostgreSQL serves."""
    vhost = create_vhost()
    local = LocalLogSight(amqp_url=vhost)
    try:
        yield local.start()
    finally:
        local.cleanup()
        delete_vhost(vhost)


def wait_for_count(database_url: str, sql: str, expected: int, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    with psycopg.connect(database_url, autocommit=True) as conn:
        while True:
            count = count_rows(conn, sql)
            if count >= expected or time.monotonic() > deadline:
                return count
            time.sleep(0.25)


def test_embedded_postgres_is_the_default_and_is_migrated(runtime: LocalLogSight) -> None:
    password = (runtime.data_dir / "postgres" / "app.password").read_text().strip()
    assert runtime.info["database_url"].startswith(f"postgresql://logsight:{password}@127.0.0.1:")
    assert (runtime.data_dir / "postgres" / "pgdata").is_dir()
    with psycopg.connect(runtime.resolved_database_url) as conn:
        assert count_rows(conn, "SELECT count(*) FROM schema_migrations") >= 2
        # Migrated by the application's role, which owns what it made and is no superuser.
        row = conn.execute(
            "SELECT r.rolsuper, (SELECT DISTINCT pg_get_userbyid(relowner) FROM pg_class"
            "  WHERE relname IN ('events', 'schema_migrations', 'users')),"
            " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm')"
            " FROM pg_roles r WHERE r.rolname = current_user"
        ).fetchone()
        assert row == (False, "logsight", True)
    log = runtime.log()
    for part in ("database", "migrations", "broker", "gateway", "processor", "scheduler", "curl"):
        assert part in log


def test_ten_thousand_events_in_mixed_batches_are_all_stored_once(runtime: LocalLogSight) -> None:
    run = uuid.uuid4().hex[:8]
    rng = random.Random(7)
    sizes: list[int] = []
    remaining = 10_000
    while remaining:
        size = min(rng.choice([1, 1, 5, 20, 100, 250, 1000]), remaining)
        sizes.append(size)
        remaining -= size
    counter = iter(range(10_000))
    requests = [
        [{"name": f"load-{run}", "properties": {"n": next(counter)}} for _ in range(size)]
        for size in sizes
    ]

    def send(events: list[dict[str, object]]) -> int:
        # As fast as 8 threads go, which is above the default per-key rate: a client that
        # honours 429's Retry-After, as the snippet and the Sentry SDKs do, still loses nothing.
        with runtime.client() as client:
            while True:
                response = client.post(
                    "/v1/events", json={"events": events}, headers={"x-logsight-key": runtime.key}
                )
                if response.status_code != 429:
                    return response.status_code
                time.sleep(float(response.headers["retry-after"]))

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(send, requests))
    assert statuses == [202] * len(requests)
    sql = f"SELECT count(*) FROM events WHERE name = 'load-{run}'"
    assert wait_for_count(runtime.resolved_database_url, sql, 10_000) == 10_000
    with psycopg.connect(runtime.resolved_database_url) as conn:
        distinct = count_rows(
            conn, f"SELECT count(DISTINCT properties->>'n') FROM events WHERE name = 'load-{run}'"
        )
        rolled = count_rows(
            conn, f"SELECT coalesce(sum(events), 0) FROM event_rollups_1m WHERE name = 'load-{run}'"
        )
    assert distinct == 10_000
    assert rolled == 10_000


def test_first_start_prints_the_admin_once_and_the_api_serves_it(runtime: LocalLogSight) -> None:
    log = runtime.log()
    lines = [line for line in log.splitlines() if line.strip().startswith("admin ")]
    assert len(lines) == 1
    # The output goes to a file here, not a terminal: only the path of the password is shown.
    path = runtime.data_dir / "admin-password.txt"
    assert (
        lines[0].strip() == f"admin      admin@localhost, password in {path} (readable only by you)"
    )
    assert path.stat().st_mode & 0o777 == 0o600
    fields = dict(line.split(": ", 1) for line in path.read_text().splitlines())
    email, password = fields["email"], fields["password"]
    assert email == "admin@localhost"
    assert password not in log
    assert password not in (runtime.data_dir / "runtime.json").read_text()
    assert runtime.info["dsn"].endswith(f"@127.0.0.1:{runtime.port}/1")
    with runtime.client() as client:
        login = client.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        token = login.json()["access_token"]
        projects = client.get("/api/projects", headers={"authorization": f"Bearer {token}"})
        assert projects.status_code == 200
        [project] = projects.json()["data"]
        assert project["id"] == runtime.project_id
        assert project["role"] == "owner"
        assert project["dsn"] == runtime.info["dsn"]
        assert client.get("/api/docs").status_code == 200


def test_bad_requests_through_the_gateway(runtime: LocalLogSight) -> None:
    with runtime.client() as client:
        response = client.post("/v1/events", json={"name": "x"}, headers={"x-logsight-key": "nope"})
        assert response.status_code == 401
        assert response.json()["error"]["field"] == "key"
        assert client.get("/nowhere").status_code == 404
        too_big = client.post(
            "/v1/events", content=b"x" * (11 * 1024 * 1024), headers={"x-logsight-key": runtime.key}
        )
        assert too_big.status_code == 413


def test_a_restart_keeps_all_data(runtime: LocalLogSight) -> None:
    with runtime.client() as client:
        response = client.post(
            "/v1/events", json={"name": "before-restart"}, headers={"x-logsight-key": runtime.key}
        )
    assert response.status_code == 202
    sql = "SELECT count(*) FROM events WHERE name = 'before-restart'"
    assert wait_for_count(runtime.resolved_database_url, sql, 1) == 1
    key, url = runtime.key, runtime.resolved_database_url
    assert runtime.stop() == 0
    assert "Stopped." in runtime.log()
    runtime.start()
    assert (runtime.key, runtime.resolved_database_url) == (key, url)
    # The admin's password is printed on the first start only.
    assert sum(line.strip().startswith("admin ") for line in runtime.log().splitlines()) == 1
    assert wait_for_count(url, sql, 1) == 1


def test_admin_password_on_a_terminal_is_shown_and_written_nowhere(tmp_path: Path) -> None:
    lines = deliver_admin_password(("admin@localhost", "s3cret"), tmp_path, terminal=True)

    assert "admin@localhost / s3cret" in lines[0]
    assert list(tmp_path.iterdir()) == []


def test_state_files_are_private(runtime: LocalLogSight) -> None:
    with runtime.client() as client:  # the built-in issuer makes its signing key
        assert client.get("/.well-known/jwks.json").status_code == 200
    data_dir = runtime.data_dir
    server_group = (data_dir / "postgres").stat().st_gid
    if os.geteuid() == 0:
        # The server's account may pass through to its own directory, no more.
        assert (data_dir.stat().st_mode & 0o777, data_dir.stat().st_gid) == (0o710, server_group)
    else:
        assert data_dir.stat().st_mode & 0o777 == 0o700
    for directory in ("keys", "postgres", "postgres/pgdata", "postgres/run"):
        assert (data_dir / directory).stat().st_mode & 0o777 == 0o700, directory
    for name in SECRETS:
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    # Whatever else the runtime and its children create is private too.
    for pid in (runtime.info["pid"], *runtime.info["processes"].values()):
        status = Path(f"/proc/{pid}/status").read_text()
        assert "Umask:\t0077" in status.splitlines(), pid


@requires_root
def test_other_users_can_neither_read_the_state_nor_connect(runtime: LocalLogSight) -> None:
    with runtime.client() as client:
        assert client.get("/.well-known/jwks.json").status_code == 200
    data_dir = runtime.data_dir
    server_user = pwd.getpwuid((data_dir / "postgres").stat().st_uid).pw_name
    port = int((data_dir / "postgres" / "port").read_text())
    user = outsider(server_user)

    for role in ("postgres", "logsight"):
        answer = psql(user, f"host=127.0.0.1 port={port} dbname=logsight user={role}")
        assert answer.returncode != 0 and "no password supplied" in answer.stderr, answer
    for who in (user, server_user):
        readable = [name for name in SECRETS if can_read(who, data_dir / name)]
        assert readable == [], who
    assert not can_read(user, data_dir)
    assert not can_read(user, data_dir / "postgres" / "pgdata")
