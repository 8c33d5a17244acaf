"""Where the two cores go during a measurement: CPU seconds per process group, from /proc.

Groups: the runtime's components (by pid), RabbitMQ (beam.smp), PostgreSQL (the backends of
the bench's database and the server's background processes; other databases' backends on the
shared server count as "other"), the load generator,
the bench driver, kernel threads (mostly I/O writeback of the fsyncs), and "other": everything
else that was busy on the machine (other users' processes, processes that exited meanwhile).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICK = os.sysconf("SC_CLK_TCK")


KERNEL = "kernel threads"


def _proc_times() -> dict[int, tuple[str, float]]:
    """pid → (command name, CPU seconds so far); kernel threads are named ``KERNEL``."""
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        pid, ppid = int(entry.name), int(fields[1])
        if pid == 2 or ppid == 2:
            comm = KERNEL
        found[pid] = (comm, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def _machine_busy() -> float:
    """Busy CPU seconds of the whole machine (all cores) since boot."""
    parts = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(x) for x in parts]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICK


Classifier = Callable[[int, str], str | None]


@dataclass
class CpuReport:
    wall_seconds: float
    groups: dict[str, float]  # group → CPU seconds
    machine_busy: float  # CPU seconds, all cores
    unclassified: dict[str, float]  # command name → CPU seconds, for "other"

    def cores(self, group: str) -> float:
        return self.groups.get(group, 0.0) / self.wall_seconds if self.wall_seconds else 0.0

    def summary(self) -> str:
        parts = [f"{name} {self.cores(name):.2f}" for name in sorted(self.groups)]
        total = self.machine_busy / self.wall_seconds if self.wall_seconds else 0.0
        top = sorted(self.unclassified.items(), key=lambda kv: -kv[1])[:4]
        other = ", ".join(f"{k} {v / self.wall_seconds:.2f}" for k, v in top if v > 0)
        return (
            ", ".join(parts)
            + f"; machine {total:.2f} of {os.cpu_count()} cores"
            + (f" (other: {other})" if other else "")
        )


class RuntimeClassifier:
    """Names the group of a process. PostgreSQL is shared: only the backends of the bench's own
    database and the server's background processes (WAL writer, checkpointer, ...) count as
    "postgresql"; backends of other databases fall into "other"."""

    def __init__(
        self,
        components: dict[str, int],
        *,
        database: str | None = None,
        load_pids: set[int] | None = None,
    ) -> None:
        self.by_pid = {pid: name for name, pid in components.items()}
        self.database = database
        self.load_pids = load_pids or set()
        self.our_postgres: set[int] | None = None

    def prepare(self) -> None:
        """Called by CpuMeter.stop(): which postgres processes are ours right now."""
        if self.database is None:
            return
        import psycopg

        from bench.common import PG_ADMIN_URL

        try:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
                rows = conn.execute(
                    "SELECT pid FROM pg_stat_activity"
                    " WHERE datname = %s OR backend_type <> 'client backend'",
                    (self.database,),
                ).fetchall()
        except psycopg.Error:
            self.our_postgres = None
            return
        self.our_postgres = {int(pid) for (pid,) in rows}

    def __call__(self, pid: int, comm: str) -> str | None:
        if comm == KERNEL:
            return KERNEL
        if pid in self.by_pid:
            return self.by_pid[pid]
        if pid in self.load_pids or comm == "wrk":
            return "load generator"
        if pid == os.getpid():
            return "bench driver"
        if comm == "py-spy":
            return "py-spy"
        if comm.startswith("beam") or comm in ("erl_child_setup", "epmd", "inet_gethost"):
            return "rabbitmq"
        if comm == "postgres" or comm.startswith("postgres"):
            if self.our_postgres is None or pid in self.our_postgres:
                return "postgresql"
            return None  # another database's backend: "other"
        return None


def runtime_classifier(
    components: dict[str, int], database: str | None = None
) -> RuntimeClassifier:
    return RuntimeClassifier(components, database=database)


class CpuMeter:
    """Call ``start()`` then ``stop()``; processes that exit in between lose their share
    (measure a child's CPU with getrusage instead)."""

    def __init__(self, classify: Classifier) -> None:
        self.classify = classify
        self._before: dict[int, tuple[str, float]] = {}
        self._busy = 0.0
        self._t0 = 0.0

    def start(self) -> None:
        self._before = _proc_times()
        self._busy = _machine_busy()
        self._t0 = time.monotonic()

    def stop(self, extra: dict[str, float] | None = None) -> CpuReport:
        after = _proc_times()
        prepare = getattr(self.classify, "prepare", None)
        if prepare is not None:
            prepare()
        wall = time.monotonic() - self._t0
        busy = _machine_busy() - self._busy
        groups: dict[str, float] = {}
        unclassified: dict[str, float] = {}
        for pid, (comm, seconds) in after.items():
            before = self._before.get(pid)
            used = max(seconds - (before[1] if before and before[0] == comm else 0.0), 0.0)
            group = self.classify(pid, comm)
            if group is None:
                unclassified[comm] = unclassified.get(comm, 0.0) + used
                continue
            groups[group] = groups.get(group, 0.0) + used
        for name, seconds in (extra or {}).items():
            groups[name] = groups.get(name, 0.0) + seconds
        # Other users' processes, those that exited meanwhile, interrupts.
        groups["other"] = max(busy - sum(groups.values()), 0.0)
        return CpuReport(wall, groups, busy, unclassified)
