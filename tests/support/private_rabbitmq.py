"""A throwaway RabbitMQ node for fault tests.

Fault tests need a broker they may kill -9, stop and restart at will. The machine's
shared node (rabbit@localhost) is used by other people at the same time, so it must
never be touched: each PrivateRabbitMQ runs its own node, with its own name, ports and
data directory, and only ever signals a process it has proven to be that node.

    with PrivateRabbitMQ() as rabbit:       # starts the node
        url = rabbit.url
        rabbit.kill()                       # SIGKILL, like a crash
        rabbit.start()                      # same port, same data: durable state survives
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self

import pika
import pika.exceptions

SHARED_NODE = "rabbit@localhost"
SERVICE_USER = "rabbitmq"

# Ports every RabbitMQ/Erlang install may claim: epmd, AMQP(S), the shared node's
# distribution port, the CLI tools' distribution range and the usual plugin ports.
_RESERVED_PORTS = frozenset(
    {4369, 5552, 5671, 5672, 15670, 15671, 15672, 15674, 15675, 15692, 25672, 1883, 8883}
    | set(range(35672, 35683))
)
_NAME_RE = re.compile(r"^[A-Za-z0-9_-]+$")


def _rabbitmq_bin_dir() -> Path:
    # Debian's /usr/sbin wrappers are unusable here: run as root they `su` to the
    # service user (leaving an extra process between us and the node), and run as
    # the service user rabbitmq-server overwrites the shared node's startup_log.
    debian = Path("/usr/lib/rabbitmq/bin")
    if (debian / "rabbitmq-server").exists():
        return debian
    found = shutil.which("rabbitmq-server")
    if found is None:
        raise FileNotFoundError("rabbitmq-server is not installed")
    return Path(found).resolve().parent


def _ephemeral_port_floor() -> int:
    try:
        low = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0]
        return int(low)
    except (OSError, IndexError, ValueError):
        return 32768


def _port_is_bindable(port: int) -> bool:
    # SO_REUSEADDR mirrors how Erlang binds its listeners: TIME_WAIT leftovers from a
    # previous run of this node must not count as "taken", a live listener must.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def _pick_port(exclude: set[int]) -> int:
    # Stay below the ephemeral range: the node has to re-bind the same port after a
    # kill, and an outgoing connection could otherwise be holding it as its local port.
    ceiling = min(_ephemeral_port_floor(), 65536) - 1
    if ceiling < 21000:
        # Nothing sensible lies below an unusually low ephemeral range; take our chances.
        ceiling = 29999
    for _ in range(500):
        port = random.randint(20000, ceiling)
        if port in _RESERVED_PORTS or port in exclude:
            continue
        if _port_is_bindable(port):
            return port
    raise RuntimeError("found no free TCP port for a private RabbitMQ node")


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _traversable_by(path: Path, uid: int, gids: set[int]) -> bool:
    for directory in [path, *path.parents]:
        st = directory.stat()
        if st.st_uid == uid:
            bit = stat.S_IXUSR
        elif st.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not st.st_mode & bit:
            return False
    return True


def _process_state(pid: int) -> str | None:
    try:
        stat_line = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses; the state follows the last ")".
    return stat_line.rsplit(")", 1)[1].split()[0]


def _tail(path: Path, lines: int = 30) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text.splitlines()[-lines:])


class PrivateRabbitMQ:
    """A RabbitMQ node of its own, safe to kill, stop and restart.

    The data directory and the ports are fixed for the life of the object, so a node
    started again after kill() or stop() finds its durable queues and persistent
    messages and listens on the same URL.
    """

    def __init__(self, base_dir: Path | None = None, name: str | None = None) -> None:
        self._node = self._node_name(name)
        self._bin = _rabbitmq_bin_dir()
        self._root = self._make_root(base_dir)
        self._proc: subprocess.Popen[bytes] | None = None
        self._server_out: IO[bytes] | None = None
        self._cleaned = False
        try:
            self._port = _pick_port(set())
            self._dist_port = _pick_port({self._port})
            self._write_files()
        except BaseException:
            shutil.rmtree(self._root, ignore_errors=True)
            raise
        # A test that dies before its fixture finalizer runs must not leave a broker behind.
        atexit.register(self._kill_at_exit)

    # ---- properties ----------------------------------------------------------------

    @property
    def node(self) -> str:
        return self._node

    @property
    def port(self) -> int:
        return self._port

    @property
    def dist_port(self) -> int:
        return self._dist_port

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self._port}/%2F"

    @property
    def data_dir(self) -> Path:
        return self._root

    @property
    def log_file(self) -> Path:
        return self._root / "log" / f"{self._node}.log"

    @property
    def pid(self) -> int | None:
        """OS pid of this node's beam.smp, or None when it is not running."""
        return self._beam_pid()

    # ---- lifecycle -----------------------------------------------------------------

    def start(self, timeout: float = 60) -> str:
        """Start the node in the background and return its AMQP URL once pika can connect."""
        self._ensure_not_cleaned()
        deadline = time.monotonic() + timeout
        if self.is_running():
            self._wait_until_ready(deadline)
            return self.url
        self._reap()
        # A stale pid file from a kill -9 could name an unrelated process by now.
        self._pid_file.unlink(missing_ok=True)
        if not _port_is_bindable(self._port):
            # Otherwise the readiness probe below could succeed against someone else's broker.
            raise RuntimeError(f"port {self._port} of {self._node} is taken by another process")
        self._server_out = (self._root / "server.out").open("ab")
        self._proc = subprocess.Popen(
            [str(self._bin / "rabbitmq-server")],
            cwd=self._root,  # erl_crash.dump lands here, not in the shared node's home
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=self._server_out,
            stderr=subprocess.STDOUT,
            # Keeps the terminal's Ctrl-C away from the node: tests decide how it dies.
            start_new_session=True,
            **self._run_as(),
        )
        try:
            self._wait_until_ready(deadline)
        except BaseException:
            self.kill()
            raise
        return self.url

    def stop(self, timeout: float = 60) -> None:
        """Stop gracefully (rabbitmqctl stop); fall back to kill() if the node won't go."""
        pid = self._beam_pid()
        if pid is None:
            self._reap()
            return
        deadline = time.monotonic() + timeout
        try:
            result = self.rabbitmqctl("stop", timeout=timeout)
        except subprocess.TimeoutExpired:
            result = None
        if result is None or result.returncode != 0:
            self.kill()
            return
        if not self._wait(lambda: not self._is_our_beam(pid), deadline):
            self.kill()
            return
        self._wait_port_closed(deadline)
        self._reap()

    def kill(self, timeout: float = 30) -> None:
        """SIGKILL this node's beam.smp (a crash, not a shutdown) and wait for its port to close."""
        deadline = time.monotonic() + timeout
        pid = self._beam_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
            if not self._wait(lambda: not self._is_our_beam(pid), deadline):
                raise TimeoutError(f"beam.smp {pid} of {self._node} survived SIGKILL")
        elif self._proc is not None and self._proc.poll() is None:
            # Still inside the start script, before beam.smp exists: the session holds
            # only the script and whatever it is about to exec, so take all of it down.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
        # Reaping the start script first lets it reap beam.smp; killing it instead would
        # hand the zombie to init, and the pid would linger for a while.
        self._reap()
        self._kill_helpers()
        self._wait_port_closed(deadline)

    def restart(self, timeout: float = 60) -> str:
        self.stop(timeout=timeout)
        return self.start(timeout=timeout)

    def is_running(self) -> bool:
        """Whether this node's beam.smp process is alive (it may still be booting)."""
        return self._beam_pid() is not None

    def cleanup(self) -> None:
        """Get rid of the node and its data directory. Safe to call more than once."""
        if self._cleaned:
            return
        # kill rather than stop: the data is about to be deleted, so there is nothing
        # worth flushing, and it saves the seconds a graceful shutdown takes.
        self.kill()
        shutil.rmtree(self._root, ignore_errors=True)
        self._cleaned = True
        atexit.unregister(self._kill_at_exit)

    def sync_quorum_registry(self, timeout: float = 30) -> None:
        """Flush the node's DETS tables, so quorum queues declared just now survive kill().

        Ra 2.2 (RabbitMQ 3.10) keeps the queue-name -> Ra-server-id map in names.dets and
        only writes it out after 500 ms without access (fixed upstream in rabbitmq/ra#443).
        A kill -9 inside that window loses the mapping: after the restart the queue gets
        a fresh, empty Ra server that never elects a leader, and every operation on it
        times out. Queues in production live far longer than 500 ms before a crash, so a
        test that declares and then kills should call this in between.
        """
        result = self.rabbitmqctl(
            "eval", "lists:usort([dets:sync(T) || T <- dets:all()]).", timeout=timeout
        )
        if result.returncode != 0 or result.stdout.strip() not in ("[ok]", "[]"):
            raise RuntimeError(
                f"syncing DETS on {self._node} failed: {result.stdout}{result.stderr}"
            )

    def rabbitmqctl(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        """Run rabbitmqctl against this node, with the same Erlang cookie the node uses."""
        return subprocess.run(
            [str(self._bin / "rabbitmqctl"), "-n", self._node, *args],
            cwd=self._root,
            env=self._env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            **self._run_as(),
        )

    def __enter__(self) -> Self:
        try:
            self.start()
        except BaseException:
            self.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    def __repr__(self) -> str:
        return f"PrivateRabbitMQ(node={self._node!r}, port={self._port}, dir={str(self._root)!r})"

    # ---- setup ---------------------------------------------------------------------

    @staticmethod
    def _node_name(name: str | None) -> str:
        if name is None:
            return f"logsight-test-{secrets.token_hex(4)}@localhost"
        short, _, host = name.partition("@")
        if host not in ("", "localhost") or not _NAME_RE.match(short):
            raise ValueError(f"node name must look like 'word' or 'word@localhost', got {name!r}")
        node = f"{short}@localhost"
        if node == SHARED_NODE:
            raise ValueError(f"{SHARED_NODE} is the shared node; pick another name")
        return node

    @staticmethod
    def _service_account() -> pwd.struct_passwd | None:
        # Only root has to hand the node over to the service user; anyone else runs the
        # node as themselves, and rabbitmqctl then shares that user's cookie too.
        if os.geteuid() != 0:
            return None
        return pwd.getpwnam(SERVICE_USER)

    def _make_root(self, base_dir: Path | None) -> Path:
        account = self._service_account()
        parent = Path(base_dir or tempfile.gettempdir()).resolve()
        if account is not None:
            gids = {account.pw_gid, *os.getgrouplist(SERVICE_USER, account.pw_gid)}
            if not _traversable_by(parent, account.pw_uid, gids):
                # The node would silently never come up, so say why right away.
                raise PermissionError(
                    f"{parent} (or a parent of it) is not traversable by the {SERVICE_USER} "
                    "user; pass a base_dir such as /tmp"
                )
        return Path(tempfile.mkdtemp(prefix="logsight-rabbitmq-", dir=parent))

    @property
    def _pid_file(self) -> Path:
        return self._root / "node.pid"

    def _write_files(self) -> None:
        (self._root / "mnesia").mkdir()
        (self._root / "log").mkdir()
        (self._root / "rabbitmq.conf").write_text("")
        (self._root / "enabled_plugins").write_text("[].\n")
        # Replaces /etc/rabbitmq/rabbitmq-env.conf, which describes the shared node.
        (self._root / "rabbitmq-env.conf").write_text("")
        account = self._service_account()
        if account is not None:
            for path in [self._root, *self._root.rglob("*")]:
                os.chown(path, account.pw_uid, account.pw_gid)

    def _env(self) -> dict[str, str]:
        account = self._service_account()
        home = account.pw_dir if account is not None else os.environ.get("HOME", str(Path.home()))
        root = self._root
        # Built from scratch so that RABBITMQ_*/ERL_* settings of whoever runs the tests
        # cannot leak into the node.
        return {
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            # Erlang reads the cookie from $HOME; the service user's home holds the same
            # cookie the shared node uses, which is what the CLI tools expect.
            "HOME": home,
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "RABBITMQ_NODENAME": self._node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self._port),
            "RABBITMQ_DIST_PORT": str(self._dist_port),
            "RABBITMQ_MNESIA_BASE": str(root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(root / "log"),
            "RABBITMQ_PID_FILE": str(self._pid_file),
            # 3.10 takes the full path, extension included (verified in the node's log).
            "RABBITMQ_CONFIG_FILE": str(root / "rabbitmq.conf"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(root / "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": str(root / "rabbitmq-env.conf"),
            "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_CRASH_DUMP": str(root / "erl_crash.dump"),
        }

    def _run_as(self) -> dict[str, Any]:
        account = self._service_account()
        if account is None:
            return {}
        return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}

    # ---- process bookkeeping -------------------------------------------------------

    def _belongs_to_node(self, pid: int, *, beam_only: bool) -> bool:
        # The environment is what proves identity: the shared node's beam.smp looks
        # identical on the command line, but only our processes carry our node name.
        state = _process_state(pid)
        if state is None or state in ("Z", "X") or pid == os.getpid():
            return False
        try:
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            return False
        if beam_only and comm != "beam.smp":
            return False
        return f"RABBITMQ_NODENAME={self._node}".encode() in environ

    def _is_our_beam(self, pid: int) -> bool:
        return self._belongs_to_node(pid, beam_only=True)

    def _node_pids(self, *, beam_only: bool) -> list[int]:
        return [
            int(entry.name)
            for entry in Path("/proc").iterdir()
            if entry.name.isdigit() and self._belongs_to_node(int(entry.name), beam_only=beam_only)
        ]

    def _beam_pid(self) -> int | None:
        try:
            pid = int(self._pid_file.read_text().strip())
        except (OSError, ValueError):
            pid = None
        if pid is not None and self._is_our_beam(pid):
            return pid
        # The pid file appears only some way into boot and is stale after a kill -9.
        pids = self._node_pids(beam_only=True)
        return pids[0] if pids else None

    def _kill_helpers(self) -> None:
        # erl_child_setup and inet_gethost outlive a SIGKILLed beam for a moment; a test
        # that checks for leftover processes should not see them.
        for pid in self._node_pids(beam_only=False):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _amqp_ready(self) -> bool:
        if not _port_accepts(self._port):
            return False
        params = pika.ConnectionParameters(
            host="127.0.0.1",
            port=self._port,
            credentials=pika.PlainCredentials("guest", "guest"),
            connection_attempts=1,
            socket_timeout=2,
            stack_timeout=5,
        )
        try:
            connection = pika.BlockingConnection(params)
        except (pika.exceptions.AMQPError, OSError):
            return False
        connection.close()
        return True

    def _wait_until_ready(self, deadline: float) -> None:
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise RuntimeError(
                    f"{self._node} exited with status {self._proc.returncode} while starting\n"
                    f"--- server.out ---\n{_tail(self._root / 'server.out')}\n"
                    f"--- {self.log_file.name} ---\n{_tail(self.log_file)}"
                )
            # Checking that our beam is alive guards against a broker of someone else
            # answering on the port.
            if self._amqp_ready() and self.is_running():
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"{self._node} did not accept AMQP connections on port {self._port} in time\n"
                    f"--- {self.log_file.name} ---\n{_tail(self.log_file)}"
                )
            time.sleep(0.2)

    @staticmethod
    def _wait(condition: Callable[[], bool], deadline: float) -> bool:
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _wait_port_closed(self, deadline: float) -> None:
        if not self._wait(lambda: not _port_accepts(self._port), deadline):
            raise TimeoutError(
                f"port {self._port} still accepts connections after {self._node} died"
            )

    def _reap(self) -> None:
        # The Popen child is the rabbitmq-server shell script; it exits on its own once
        # beam.smp is gone, and has to be waited for so that it leaves no zombie.
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        if self._server_out is not None:
            self._server_out.close()
            self._server_out = None

    def _ensure_not_cleaned(self) -> None:
        if self._cleaned:
            raise RuntimeError(f"{self._node} was cleaned up; create a new PrivateRabbitMQ")

    def _kill_at_exit(self) -> None:
        with contextlib.suppress(Exception):
            self.cleanup()
