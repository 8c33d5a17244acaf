"""Running the real local runtime (``logsight local``) as a subprocess, for end-to-end tests."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from psycopg.rows import dict_row

from logsight.local.embedded_postgres import EmbeddedPostgres

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def traversable_tempdir(prefix: str) -> Path:
    """A directory an unprivileged server user (embedded PostgreSQL) can reach."""
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o711)
    return path


class LocalLogSight:
    def __init__(
        self,
        *,
        amqp_url: str,
        database_url: str | None = None,
        data_dir: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.database_url = database_url
        self._own_dir = data_dir is None
        self.data_dir = data_dir or traversable_tempdir("logsight-local-")
        self.port = free_port()
        self.extra_env = env or {}
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = self.data_dir / "supervisor.log"
        self.info: dict[str, Any] = {}

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
        env.update(
            {
                "LOGSIGHT_AMQP_URL": self.amqp_url,
                "LOGSIGHT_DATA_DIR": str(self.data_dir),
                "LOGSIGHT_PORT": str(self.port),
                "LOGSIGHT_BATCH_WINDOW_SECONDS": "0.2",
                "LOGSIGHT_CONNECT_TIMEOUT_SECONDS": "1",
                "LOGSIGHT_PUBLISH_TIMEOUT_SECONDS": "3",
                **self.extra_env,
            }
        )
        if self.database_url:
            env["LOGSIGHT_DATABASE_URL"] = self.database_url
        return env

    def start(self, timeout: float = 90) -> LocalLogSight:
        runtime_file = self.data_dir / "runtime.json"
        runtime_file.unlink(missing_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "logsight.cli", "local"],
            env=self.env(),
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"logsight local exited:\n{self.log()}")
            if runtime_file.exists():
                self.info = json.loads(runtime_file.read_text())
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"logsight local did not start in {timeout}s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    @property
    def url(self) -> str:
        return str(self.info["gateway_url"])

    @property
    def key(self) -> str:
        return str(self.info["ingest_key"])

    @property
    def project_id(self) -> str:
        return str(self.info["project_id"])

    @property
    def resolved_database_url(self) -> str:
        return str(self.info["database_url"])

    def pid_of(self, component: str) -> int:
        info = json.loads((self.data_dir / "runtime.json").read_text())
        return int(info["processes"][component])

    def wait_for_restart(self, component: str, old_pid: int, timeout: float = 30) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(FileNotFoundError, json.JSONDecodeError, KeyError):
                pid = self.pid_of(component)
                if pid != old_pid:
                    return pid
            time.sleep(0.1)
        raise TimeoutError(f"{component} was not restarted:\n{self.log()}")

    def wait_for_row(self, sql: str, *params: Any, timeout: float = 60) -> dict[str, Any]:
        """The first row ``sql`` returns once the pipeline has stored it."""
        deadline = time.monotonic() + timeout
        with psycopg.connect(self.resolved_database_url, autocommit=True) as conn:
            while True:
                with conn.cursor(row_factory=dict_row) as cur:
                    row = cur.execute(sql, params).fetchone()  # type: ignore[arg-type]
                if row is not None:
                    return row
                if time.monotonic() > deadline:
                    raise AssertionError(f"nothing for {sql} {params}:\n{self.log()}")
                time.sleep(0.2)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)

    def stop(self, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.process.returncode

    def cleanup(self) -> None:
        self.stop()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> LocalLogSight:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.cleanup()


@contextlib.contextmanager
def fresh_runtime(prefix: str, env: dict[str, str] | None = None) -> Iterator[LocalLogSight]:
    """``logsight local`` started on a database and a vhost of its own, all removed after."""
    # Here rather than at the top: the benchmarks import this module without pytest's conftest.
    from tests.conftest import (
        RUNTIME_ENV,
        create_database,
        create_vhost,
        delete_vhost,
        drop_database,
    )

    database, vhost = create_database(prefix), create_vhost()
    local = LocalLogSight(amqp_url=vhost, database_url=database, env={**RUNTIME_ENV, **(env or {})})
    try:
        yield local.start()
    finally:
        local.cleanup()
        delete_vhost(vhost)
        drop_database(database)


@contextlib.contextmanager
def private_postgres(prefix: str) -> Iterator[EmbeddedPostgres]:
    """A PostgreSQL server of the test's own (the embedded one), free to kill and restart."""
    base = traversable_tempdir(prefix)
    server = EmbeddedPostgres(base / "pg")
    try:
        server.start()
        yield server
    finally:
        server.stop(mode="immediate", timeout=10)
        shutil.rmtree(base, ignore_errors=True)
