"""Running the real ``logsight local`` as a subprocess (the test suite's harness), and reading
the memory of its whole process tree from /proc."""

from __future__ import annotations

import os
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.common import log
from bench.memory import component_of, read_usage
from tests.support.runtime import LocalLogSight

# The benchmarks push far more than the default quotas allow (60,000 events a minute per
# project, 2,000 a second per key): limits this high keep the quota path running (leases, one
# round trip a second or so) without ever refusing, so its cost is in the numbers.
BENCH_QUOTAS = {
    "LOGSIGHT_PROJECT_EVENTS_PER_MINUTE": str(10**12),
    "LOGSIGHT_KEY_EVENTS_PER_SECOND": str(10**12),
}


def bench_env(overrides: dict[str, str] | None = None) -> dict[str, str]:
    """The inherited environment without any LOGSIGHT_ setting of the caller's, and quotas that
    the benchmarks' load never reaches."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOGSIGHT_")}
    env.update(BENCH_QUOTAS)
    env.update(overrides or {})
    return env


class LocalRuntime(LocalLogSight):
    """The test suite's harness for ``python -m logsight.cli local``, with the bench's settings:
    the product's defaults rather than the tests' quick timeouts and short batching window."""

    def env(self) -> dict[str, str]:
        return bench_env(
            {
                "LOGSIGHT_AMQP_URL": self.amqp_url,
                "LOGSIGHT_DATABASE_URL": self.database_url or "",
                "LOGSIGHT_DATA_DIR": str(self.data_dir),
                "LOGSIGHT_PORT": str(self.port),
                "LOGSIGHT_TIMESCALE": "auto",
                # Maintenance would run DDL in the middle of a measurement; once an hour is the
                # default, keep it out of the way explicitly.
                "LOGSIGHT_MAINTENANCE_INTERVAL_SECONDS": "3600",
                **self.extra_env,
            }
        )

    def start(self, timeout: float = 90) -> LocalRuntime:
        super().start(timeout)
        log(f"logsight local up on {self.url} (pids {self.info['processes']})")
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:  # noqa: S310
                return bool(response.status == 200)
        except OSError:
            return False

    def __enter__(self) -> LocalRuntime:
        return self.start()


# -- memory --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemorySample:
    pss_mb: float
    rss_mb: float
    per_process: dict[str, float]  # name → PSS MB


def _any_process(argv: list[str]) -> str:
    return component_of(argv) or (Path(argv[0]).name if argv else "?")


def tree_memory(root: int) -> MemorySample:
    usage = read_usage(root, name_of=_any_process)
    return MemorySample(
        sum(u.pss for u in usage.values()),
        sum(u.rss for u in usage.values()),
        {name: u.pss for name, u in usage.items()},
    )


class MemorySampler(threading.Thread):
    """Samples the PSS of a process tree every ``interval`` seconds; keeps the peak."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        super().__init__(name="memory-sampler", daemon=True)
        self.root, self.interval = root, interval
        self.peak: MemorySample | None = None
        self.samples = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            sample = tree_memory(self.root)
            self.samples += 1
            if self.peak is None or sample.pss_mb > self.peak.pss_mb:
                self.peak = sample

    def stop(self) -> MemorySample | None:
        self._stop_event.set()
        self.join(5)
        return self.peak


def queue_depth(amqp_url: str, queues: list[str]) -> int:
    """Messages ready in ``queues`` (passive declares; unacknowledged ones are not counted)."""
    import pika

    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        return sum(channel.queue_declare(q, passive=True).method.message_count for q in queues)


def wait_for_empty_queues(amqp_url: str, queues: list[str], timeout: float = 120) -> float:
    """Wait until the runtime's processor has taken everything; returns the seconds waited."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if queue_depth(amqp_url, queues) == 0:
            # The last batch may still be in the processor's hands: one more batch window.
            time.sleep(1.0)
            return time.monotonic() - began
        time.sleep(0.25)
    log(f"queues not empty after {timeout:.0f}s; continuing")
    return time.monotonic() - began
