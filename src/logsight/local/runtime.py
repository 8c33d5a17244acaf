"""``logsight local``: LogSight on one machine, no AWS, the same handlers.

A supervisor that prepares the database and the broker, then runs the gateway, the processor
pollers and the scheduler as child processes, restarting any that dies, and stops them all
cleanly on Ctrl-C. Connection details are printed and written to DATA_DIR/runtime.json.

DATA_DIR is readable by this process's user alone (0700; 0710 for the embedded server's group
when that server runs as another user, which only lets it pass through to its own directory),
and every file LogSight keeps in it is 0600.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import amqp
import psycopg

from logsight.auth.bootstrap import ensure_first_admin
from logsight.config import Settings
from logsight.ingest.sentry.dsn import dsn_for
from logsight.local import dashboard
from logsight.local.embedded_postgres import EmbeddedPostgres
from logsight.private_files import make_private_directory, write_private
from logsight.queue.topology import ensure_topology
from logsight.storage.keys import create_key, oldest_active_key
from logsight.storage.migrate import migrate
from logsight.storage.projects import create_project, find_project

RUNTIME_FILE = "runtime.json"
FIRST_ADMIN_FILE = "admin-password.txt"
DEFAULT_PROJECT = "default"
COMPONENTS = ("gateway", "processor", "scheduler")


def say(message: str) -> None:
    print(message, flush=True)


def embedded_postgres(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.data_dir.resolve() / "postgres")


def private_data_dir(settings: Settings) -> Path:
    """DATA_DIR, created when missing, with nothing in it readable by other users."""
    data_dir = settings.data_dir.resolve()
    if data_dir.is_dir() and data_dir.stat().st_mode & stat.S_ISVTX:
        # Closing a shared directory such as /tmp to everyone else would break the machine.
        raise SystemExit(
            f"error: LOGSIGHT_DATA_DIR={data_dir} is a shared directory (sticky bit); "
            f"use a directory of LogSight's own, e.g. {data_dir / 'logsight'}"
        )
    group = None if settings.database_url else embedded_postgres(settings).server_group
    make_private_directory(data_dir, traverse_group=group)
    return data_dir


def resolve_database_url(
    settings: Settings, *, announce: bool = False, server: EmbeddedPostgres | None = None
) -> str:
    """LOGSIGHT_DATABASE_URL, or the embedded server in the data directory (started if needed):
    then the URL of its application role, which owns LogSight's database and nothing else."""
    if settings.database_url:
        return settings.database_url
    private_data_dir(settings)
    server = server or embedded_postgres(settings)
    url = server.start()
    if announce:
        say(f"  database   embedded PostgreSQL, data in {server.pgdata}")
    return url


@dataclass(frozen=True, slots=True)
class FirstStart:
    project_id: str
    project_number: int
    key: str
    admin: tuple[str, str] | None  # (email, password) when the admin was created just now


def first_start(database_url: str, settings: Settings) -> FirstStart:
    """The default project, an active ingest key and the first admin, made when missing."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        project_id, key = _default_project_key(conn, settings)
        admin = ensure_first_admin(conn, settings)
        row = conn.execute("SELECT number FROM projects WHERE id = %s", (project_id,)).fetchone()
    assert row is not None
    return FirstStart(project_id, int(row[0]), key, admin)


def deliver_admin_password(admin: tuple[str, str], data_dir: Path, *, terminal: bool) -> list[str]:
    """The lines announcing the first admin's password, shown once.

    Only a terminal gets the password itself: output sent to a file or a pipe ends up in logs
    that others may read, so the password goes to a 0600 file instead and only its path is
    printed.
    """
    email, password = admin
    if terminal:
        return [
            f"  admin      {email} / {password}",
            "             (shown this once: the dashboard asks for a new one at first sign-in)",
        ]
    path = data_dir / FIRST_ADMIN_FILE
    write_private(path, f"email: {email}\npassword: {password}\n")
    return [
        f"  admin      {email}, password in {path} (readable only by you)",
        "             (the dashboard asks for a new one at first sign-in; then delete the file)",
    ]


def _default_project_key(conn: psycopg.Connection, settings: Settings) -> tuple[str, str]:
    project_id = find_project(conn, DEFAULT_PROJECT)
    if project_id is None:
        created = create_project(
            conn, DEFAULT_PROJECT, retention_days=settings.default_retention_days
        )
        return str(created.id), created.public_key
    key = oldest_active_key(conn, project_id)
    if key is None:
        return str(project_id), create_key(conn, project_id, label="default")
    return str(project_id), key


def restart_delay(history: list[float]) -> int:
    """Seconds to wait before restarting something that just died; records the death.

    Back off when it keeps dying, like a process manager would: at once the first time in a
    minute, then 2, 4, 8 ... seconds, at most 30.
    """
    now = time.monotonic()
    history[:] = [t for t in history if now - t < 60] + [now]
    return min(2 ** (len(history) - 1), 30) if len(history) > 1 else 0


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    history: list[float] = field(default_factory=list)

    def start(self) -> None:
        self.process = subprocess.Popen(self.argv, env=self.env)
        self.started_at = time.monotonic()

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self) -> None:
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)

    def wait(self, timeout: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Supervisor:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.data_dir = settings.data_dir.resolve()
        self.stop = threading.Event()
        self.children: list[Child] = []
        self.info: dict[str, Any] = {}
        self.admin_lines: list[str] = []
        # The embedded PostgreSQL, when this runtime owns it (no LOGSIGHT_DATABASE_URL).
        self.postgres: EmbeddedPostgres | None = None
        self._postgres_deaths: list[float] = []

    def prepare(self) -> str:
        private_data_dir(self.settings)
        say("LogSight local runtime")
        if not self.settings.database_url:
            self.postgres = embedded_postgres(self.settings)
        database_url = resolve_database_url(self.settings, announce=True, server=self.postgres)
        if self.settings.database_url:
            say("  database   LOGSIGHT_DATABASE_URL")
        applied = migrate(database_url, timescale=self.settings.timescale)
        say(f"  migrations {len(applied)} applied" if applied else "  migrations up to date")
        try:
            queues = ensure_topology(self.settings)
        except (OSError, amqp.exceptions.AMQPError) as exc:
            raise SystemExit(
                f"error: cannot reach RabbitMQ at {_mask(self.settings.amqp_url)} ({exc}). "
                "Start it (e.g. `rabbitmq-server -detached`) or set LOGSIGHT_AMQP_URL."
            ) from exc
        say(f"  broker     {len(queues)} shard queues on {_mask(self.settings.amqp_url)}")
        return database_url

    def run(self) -> int:
        database_url = self.prepare()
        start = first_start(database_url, self.settings)
        # Delivered (to its file) before anything else can fail: it is made only once.
        self.admin_lines = (
            deliver_admin_password(start.admin, self.data_dir, terminal=sys.stdout.isatty())
            if start.admin
            else []
        )
        base = f"http://{self.settings.host}:{self.settings.port}"
        env = {
            **os.environ,
            "LOGSIGHT_DATABASE_URL": database_url,
            # DSNs and snippets the API hands out point here unless told otherwise.
            "LOGSIGHT_PUBLIC_URL": os.environ.get("LOGSIGHT_PUBLIC_URL", base),
            "POWERTOOLS_METRICS_DISABLED": os.environ.get("POWERTOOLS_METRICS_DISABLED", "true"),
            "POWERTOOLS_LOG_LEVEL": os.environ.get("POWERTOOLS_LOG_LEVEL", "WARNING"),
        }
        for name in COMPONENTS:
            argv = [sys.executable, "-m", "logsight.cli", "local", name]
            self.children.append(Child(name, argv, env))
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: self.stop.set())
        # From the first child on, every way out goes through the shutdown: a gateway that cannot
        # start must not leave the processor and the scheduler running on their own.
        try:
            for child in self.children:
                child.start()
                say(f"  {child.name:<10} started (pid {child.pid})")
            self._wait_for_gateway(base)
            self._announce(base, start, database_url)
            self._supervise()
        finally:
            self._shutdown()
        return 0

    def _announce(self, base: str, start: FirstStart, database_url: str) -> None:
        key, project_id = start.key, start.project_id
        public = os.environ.get("LOGSIGHT_PUBLIC_URL", base)
        dsn = dsn_for(key, public, start.project_number)
        self.info = {
            "pid": os.getpid(),
            "gateway_url": base,
            "dashboard_url": f"{base}/",
            "ingest_url": f"{base}/v1/events",
            "otlp_logs_url": f"{base}/v1/logs",
            "api_url": f"{base}/api",
            "project_id": project_id,
            "ingest_key": key,
            "dsn": dsn,
            "database_url": database_url,
            "amqp_url": _mask(self.settings.amqp_url),
            "processes": {},
        }
        self._write_info()
        say("")
        if dashboard.built():
            say(f"LogSight is running: open the dashboard at {base}/")
        else:
            say(f"LogSight is running at {base} (dashboard not built: `make web`)")
        say(f"  ingest     POST {base}/v1/events")
        say(f"  api        {base}/api (docs at {base}/api/docs)")
        say(f"  snippet    {base}/sdk/logsight.js")
        say(f"  project    {DEFAULT_PROJECT} ({project_id})")
        say(f"  key        {key}")
        say(f"  dsn        {dsn}  (for Sentry SDKs)")
        say(f"  otlp logs  POST {base}/v1/logs  (OTEL_EXPORTER_OTLP_LOGS_ENDPOINT)")
        for line in self.admin_lines:
            say(line)
        say(f"  details    {self.data_dir / RUNTIME_FILE}")
        say("")
        say("Send a test event:")
        say(
            f"  curl -sS -X POST '{base}/v1/events' -H 'Content-Type: application/json' "
            f"-H 'X-LogSight-Key: {key}' "
            '-d \'{"name": "hello", "properties": {"from": "curl"}}\''
        )
        say("")
        say("Press Ctrl-C to stop.")

    def _wait_for_gateway(self, base: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.stop.is_set():
            try:
                health = f"{base}/health"  # always http://host:port from our own settings
                with urllib.request.urlopen(health, timeout=1) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                pass
            gateway = self.children[0]
            if not gateway.alive():
                raise SystemExit(f"error: the gateway exited; is port {self.settings.port} free?")
            time.sleep(0.1)
        if not self.stop.is_set():
            raise SystemExit(f"error: the gateway did not answer on {base} within {timeout:.0f}s")

    def _write_info(self) -> None:
        self.info["processes"] = {c.name: c.pid for c in self.children}
        if self.postgres is not None:
            self.info["processes"]["postgres"] = self.postgres.postmaster_pid()
        write_private(self.data_dir / RUNTIME_FILE, json.dumps(self.info, indent=2) + "\n")

    def _supervise(self) -> None:
        while not self.stop.wait(0.5):
            self._supervise_postgres()
            for child in self.children:
                if child.alive():
                    continue
                code = child.process.returncode if child.process else None
                delay = restart_delay(child.history)
                say(f"  {child.name} exited with {code}; restarting in {delay}s")
                if self.stop.wait(delay):
                    return
                child.start()
                child.restarts += 1
                say(f"  {child.name:<10} restarted (pid {child.pid})")
                self._write_info()

    def _supervise_postgres(self) -> None:
        """Bring the embedded PostgreSQL back when it dies, as the components are.

        Its postmaster is this process's child: reaping it (postmaster_pid does) keeps a zombie
        from passing for a live server, and start() clears the stale postmaster.pid, waits for
        the old backends and lets PostgreSQL recover from its log.
        """
        server = self.postgres
        if server is None or server.postmaster_pid() is not None:
            return
        code = server.last_exit_code
        delay = restart_delay(self._postgres_deaths)
        say(f"  postgres exited with {code}; restarting in {delay}s")
        if self.stop.wait(delay):
            return
        try:
            server.start()
        except (RuntimeError, OSError, psycopg.Error) as exc:
            # Tried again on the next round, after a longer pause.
            say(f"  postgres   failed to start: {str(exc).splitlines()[0] if str(exc) else exc!r}")
            return
        say(f"  {'postgres':<10} restarted (pid {server.postmaster_pid()})")
        self._write_info()

    def _shutdown(self) -> None:
        say("Stopping...")
        for child in self.children:
            child.terminate()
        for child in self.children:
            child.wait(15)
        if self.postgres is not None:
            self.postgres.stop()
        (self.data_dir / RUNTIME_FILE).unlink(missing_ok=True)
        say("Stopped.")


def _mask(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url
