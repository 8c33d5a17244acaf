"""Memory of every process of ``logsight local`` over time: sampling /proc and summarising.

Each sample reads /proc/PID/smaps_rollup of the supervisor and all its descendants (the embedded
PostgreSQL's postmaster is the supervisor's child) and files each process under one component.
PSS splits a shared page between the processes that map it, so the components add up to the
tree's real footprint. PostgreSQL's shared buffers are one shared mapping: a backend's PSS holds
its share of the buffer pages it has touched (``Pss_Shmem``), which grows as the server reads
and writes more of the database until every buffer has been used once, then stays; its private
memory (catalog caches, sort memory) is ``Pss_Anon``.
"""

from __future__ import annotations

import contextlib
import math
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The runtime's own processes are named by the argument after `local` (`logsight.cli local
# gateway`); the supervisor has none.
RUNTIME_COMPONENTS = ("supervisor", "gateway", "processor", "scheduler")
POSTMASTER = "postgres: postmaster"
BACKENDS = "postgres: backends"
BACKGROUND = "postgres: background"
COMPONENTS = (*RUNTIME_COMPONENTS, POSTMASTER, BACKENDS, BACKGROUND)

# Titles PostgreSQL gives its auxiliary processes; everything else under the postmaster that is
# not one of them is a client connection's backend.
_BACKGROUND_TITLES = (
    "checkpointer",
    "background writer",
    "walwriter",
    "autovacuum",
    "logical replication",
    "archiver",
    "stats collector",
    "startup",
    "walsender",
    "walreceiver",
    "parallel worker",
    "TimescaleDB",
)


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """The kB fields of /proc/PID/smaps_rollup (Rss, Pss, Pss_Anon, Pss_Shmem, ...)."""
    values: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2] == "kB":
            values[parts[0].rstrip(":")] = int(parts[1])
    return values


def component_of(argv: Sequence[str]) -> str | None:
    """The component a process belongs to, from its command line (None: not ours)."""
    if not argv:
        return None
    if argv[0].startswith("postgres:"):
        title = argv[0].removeprefix("postgres:").strip()
        return BACKGROUND if title.startswith(_BACKGROUND_TITLES) else BACKENDS
    if Path(argv[0]).name == "postgres":
        return POSTMASTER
    if "logsight.cli" in argv and "local" in argv:
        rest = argv[argv.index("local") + 1 :]
        name = rest[0] if rest else "supervisor"
        return name if name in RUNTIME_COMPONENTS else None
    return None


@dataclass
class Usage:
    """One component's memory in one sample (MB), and how many processes/threads it had."""

    pss: float = 0.0
    rss: float = 0.0
    anon: float = 0.0  # Pss_Anon: private heap, stacks, malloc arenas
    shmem: float = 0.0  # Pss_Shmem: PostgreSQL's shared buffers (and other shared memory)
    processes: int = 0
    threads: int = 0

    def add(self, smaps: dict[str, int], threads: int) -> None:
        self.pss += smaps.get("Pss", 0) / 1024
        self.rss += smaps.get("Rss", 0) / 1024
        self.anon += smaps.get("Pss_Anon", 0) / 1024
        self.shmem += smaps.get("Pss_Shmem", 0) / 1024
        self.processes += 1
        self.threads += threads


@dataclass
class Sample:
    seconds: float  # since the load started
    events: int  # events accepted (202) so far
    usage: dict[str, Usage] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return sum(u.pss for u in self.usage.values())

    def pss(self, component: str) -> float:
        usage = self.usage.get(component)
        return usage.pss if usage else 0.0


# -- reading /proc --------------------------------------------------------------------------------


def _read(path: Path) -> str | None:
    with contextlib.suppress(OSError):
        return path.read_text(errors="replace")
    return None


def _parents(proc: Path) -> dict[int, int]:
    parents: dict[int, int] = {}
    for entry in proc.iterdir():
        if entry.name.isdigit() and (stat := _read(entry / "stat")) is not None:
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    return parents


def descendants(root: int, parents: dict[int, int]) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def read_usage(
    root: int,
    proc: Path = Path("/proc"),
    name_of: Callable[[list[str]], str | None] = component_of,
) -> dict[str, Usage]:
    """Memory by component of the process tree under ``root`` (``name_of`` names a process
    from its command line; None leaves it out)."""
    usage: dict[str, Usage] = {}
    for pid in descendants(root, _parents(proc)):
        raw = _read(proc / str(pid) / "cmdline")
        name = name_of([w for w in (raw or "").split("\0") if w])
        smaps = _read(proc / str(pid) / "smaps_rollup")
        if name is None or smaps is None:
            continue
        status = parse_smaps_rollup(smaps)
        threads = len(list((proc / str(pid) / "task").iterdir()))
        usage.setdefault(name, Usage()).add(status, threads)
    return usage


# -- summarising a series ------------------------------------------------------------------------


def slope_per_hour(points: Sequence[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, MB) points, in MB per hour (NaN for fewer than 3)."""
    if len(points) < 3:
        return math.nan
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if spread == 0:
        return math.nan
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / spread
    return slope * 3600


@dataclass(frozen=True)
class Trend:
    """Fresh → plateau → end of one series, and whether it still grows."""

    fresh: float  # the first sample (idle, before any load)
    plateau: float  # median of the last half
    end: float
    peak: float
    slope_per_hour: float  # least squares over the last half, MB/h
    last_half_seconds: float

    @property
    def last_half_growth(self) -> float:
        """MB gained across the last half by the fitted line."""
        if math.isnan(self.slope_per_hour):
            return 0.0
        return self.slope_per_hour * self.last_half_seconds / 3600

    @property
    def levels_off(self) -> bool:
        """The last half grew by less than 2 MB or 3% of the plateau, whichever is more."""
        return self.last_half_growth < max(2.0, 0.03 * self.plateau)


def trend(series: Sequence[tuple[float, float]]) -> Trend:
    if not series:
        raise ValueError("no samples")
    values = [v for _, v in series]
    last_half = list(series[len(series) // 2 :])
    return Trend(
        fresh=values[0],
        plateau=statistics.median(v for _, v in last_half),
        end=values[-1],
        peak=max(values),
        slope_per_hour=slope_per_hour(last_half),
        last_half_seconds=last_half[-1][0] - last_half[0][0],
    )


def series_of(
    samples: Iterable[Sample], value: Callable[[Sample], float]
) -> list[tuple[float, float]]:
    return [(s.seconds, value(s)) for s in samples]
