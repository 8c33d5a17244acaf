"""``make bench``: run the LogSight benchmarks and write docs/benchmarks.md.

    .venv/bin/python -m bench.run                      # everything (about 6-9 minutes)
    .venv/bin/python -m bench.run --quick              # smoke run (about 2-3 minutes)
    .venv/bin/python -m bench.run --only ingest,processor

Sections: imports, raw, processor, breakdown, ingest, e2e, memory, knobs, whatif. Everything runs
against loopback only, in a PostgreSQL database and a RabbitMQ vhost created for the run and
removed at the end (also on errors and Ctrl-C); shared services are never stopped.
A full run writes docs/benchmarks.md; a quick or partial run writes
/tmp/logsight-bench/benchmarks-partial.md unless --output says otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import pickle
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import psycopg

from bench import e2e, http, imports, processor, raw
from bench.common import PYTHON, REPO, log
from bench.cpu import CpuMeter, CpuReport, runtime_classifier
from bench.events import message_body, request_body, sample_event
from bench.machine import background_load, machine_info, wait_for_quiet
from bench.profiling import Profile, Profiler, ensure_py_spy
from bench.resources import BenchDatabase, BenchVhost
from bench.runtime import (
    LocalRuntime,
    MemorySample,
    MemorySampler,
    bench_env,
    tree_memory,
    wait_for_empty_queues,
)
from logsight.config import Settings
from logsight.queue.topology import ensure_topology
from logsight.storage.migrate import migrate
from logsight.storage.mode import recorded_mode
from logsight.storage.projects import create_project
from tests.support.runtime import free_port

SECTIONS = (
    "imports",
    "raw",
    "processor",
    "breakdown",
    "ingest",
    "e2e",
    "memory",
    "knobs",
    "whatif",
)
DEFAULT_OUTPUT = REPO / "docs" / "benchmarks.md"
PARTIAL_OUTPUT = Path(tempfile.gettempdir()) / "logsight-bench" / "benchmarks-partial.md"
WORK_DIR = Path(tempfile.gettempdir()) / "logsight-bench"


@dataclass
class HttpRun:
    label: str
    wrk: http.WrkResult
    cpu: CpuReport


@dataclass
class LatencyRun:
    label: str
    result: http.OpenLoopResult
    cpu: CpuReport


@dataclass
class Knob:
    setting: str
    value: str
    metric: str
    result: float
    unit: str
    note: str = ""


@dataclass
class State:
    """Everything measured in one run; report.py turns it into markdown."""

    command: str
    quick: bool
    sections: tuple[str, ...]
    started: datetime
    finished: datetime | None = None
    machine: dict[str, str] = field(default_factory=dict)
    background_cores: float = 0.0
    storage_mode: str = "?"
    import_times: list[imports.ImportTime] = field(default_factory=list)
    publish: list[raw.PublishRate] = field(default_factory=list)
    copy: list[tuple[int, float]] = field(default_factory=list)  # (batch rows, rows/s)
    drains: list[processor.DrainResult] = field(default_factory=list)
    processor_profile: Profile | None = None
    inproc_ingest: dict[str, float] = field(default_factory=dict)
    inproc_processor: dict[str, float] = field(default_factory=dict)
    single: list[HttpRun] = field(default_factory=list)
    hundred: list[HttpRun] = field(default_factory=list)
    latency: list[LatencyRun] = field(default_factory=list)
    gateway_profile: Profile | None = None
    gateway_profile_rate: float = 0.0
    e2e: list[tuple[str, e2e.E2EResult]] = field(default_factory=list)
    memory_idle: MemorySample | None = None
    memory_load: MemorySample | None = None
    knobs: list[Knob] = field(default_factory=list)
    whatif: list[tuple[int, int, HttpRun]] = field(default_factory=list)  # (procs, pool, run)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    """Sizes and durations: full run vs --quick."""

    import_runs: int
    publish_seconds: float
    publish_configs_small: tuple[tuple[int, str], ...]
    publish_configs_large: tuple[tuple[int, str], ...]
    copy_rows: int
    drain_100_events: int
    drain_1_events: int
    wrk_seconds: float
    wrk_connections: tuple[int, ...]
    wrk_hundred_connections: tuple[int, ...]
    latency_seconds: float
    e2e_rate: float
    e2e_seconds: float
    inproc_iterations: int
    knob_workers: tuple[str, ...]
    whatif_gateways: tuple[tuple[int, int], ...]  # (processes, threads each)

    @staticmethod
    def for_mode(quick: bool) -> Plan:
        if quick:
            return Plan(
                import_runs=3,
                publish_seconds=2,
                publish_configs_small=((1, "thread"), (4, "process")),
                publish_configs_large=((1, "thread"), (4, "process")),
                copy_rows=30_000,
                drain_100_events=50_000,
                drain_1_events=6_000,
                wrk_seconds=4,
                wrk_connections=(32,),
                wrk_hundred_connections=(16,),
                latency_seconds=4,
                e2e_rate=200,
                e2e_seconds=5,
                inproc_iterations=400,
                knob_workers=("8",),
                whatif_gateways=((2, 16),),
            )
        return Plan(
            import_runs=7,
            publish_seconds=3,
            publish_configs_small=((1, "thread"), (4, "thread"), (4, "process"), (8, "process")),
            publish_configs_large=((1, "thread"), (4, "process"), (8, "process")),
            copy_rows=100_000,
            drain_100_events=200_000,
            drain_1_events=20_000,
            wrk_seconds=8,
            wrk_connections=(16, 64),
            wrk_hundred_connections=(8, 32),
            latency_seconds=10,
            e2e_rate=200,
            e2e_seconds=15,
            inproc_iterations=1000,
            knob_workers=("8", "32", "64"),
            whatif_gateways=((1, 32), (2, 16), (3, 11)),
        )


class Bench:
    def __init__(self, state: State, plan: Plan, profiler: Profiler | None) -> None:
        self.state, self.plan, self.profiler = state, plan, profiler
        self.db = BenchDatabase()
        self.vhost = BenchVhost()
        self.project_id: UUID | None = None
        self.project_key = ""
        self.rng = random.Random(42)

    # -- orchestration ------------------------------------------------------------------------

    def section(self, name: str, fn: Callable[[], None]) -> None:
        if name not in self.state.sections:
            return
        log(f"== {name} ==")
        began = time.monotonic()
        try:
            fn()
        except Exception as exc:
            self.state.failures.append(f"{name}: {exc!r}")
            log(f"section {name} failed: {exc!r}")
            traceback.print_exc()
        log(f"== {name} done in {time.monotonic() - began:.0f} s ==")

    def run(self) -> None:
        with self._resources():
            self.state.machine = machine_info(self.vhost.url)
            self.section("imports", self.imports)
            self.section("raw", self.raw_limits)
            self.section("processor", self.processor)
            self.section("breakdown", self.breakdown)
            if {"ingest", "e2e", "memory", "whatif"} & set(self.state.sections):
                self.runtime_session()
            self.section("knobs", self.knobs)

    @contextlib.contextmanager
    def _resources(self) -> Iterator[None]:
        self.db.create()
        try:
            self.vhost.create()
            try:
                migrate(self.db.url, timescale="auto")
                with psycopg.connect(self.db.url, autocommit=True) as conn:
                    mode = recorded_mode(conn)
                    self.state.storage_mode = str(mode.value) if mode else "?"
                    project = create_project(conn, "bench")
                self.project_id, self.project_key = project.id, project.public_key
                yield
            finally:
                self.vhost.delete()
        finally:
            self.db.drop()

    # -- sections -----------------------------------------------------------------------------

    def imports(self) -> None:
        cache = WORK_DIR / "pycache"
        for module in ("functions.ingest.handler", "functions.processor.handler"):
            self.state.import_times.append(
                imports.measure(module, self.plan.import_runs, pycache=cache)
            )
        self.state.import_times.append(
            imports.measure(
                "functions.ingest.handler", max(self.plan.import_runs // 2, 3), pycache=None
            )
        )

    def raw_limits(self) -> None:
        assert self.project_id is not None
        raw.declare_raw_queue(self.vhost.url)
        try:
            small = message_body(self.project_id, [sample_event(self.rng)])
            large = message_body(self.project_id, [sample_event(self.rng) for _ in range(100)])
            for body, configs in (
                (small, self.plan.publish_configs_small),
                (large, self.plan.publish_configs_large),
            ):
                for publishers, mode in configs:
                    self.state.publish.append(
                        raw.publish_rate(
                            self.vhost.url,
                            body,
                            publishers=publishers,
                            mode=mode,
                            seconds=self.plan.publish_seconds,
                        )
                    )
        finally:
            raw.delete_raw_queue(self.vhost.url)
        template = _copy_rows(self.project_id, self.rng)
        for batch in (500, 5000):
            self.state.copy.append(
                (
                    batch,
                    raw.copy_rate(self.db.url, template, total=self.plan.copy_rows, batch=batch),
                )
            )

    def _drain(
        self,
        label: str,
        *,
        per_message: int,
        events: int,
        shards: int = 1,
        batch_size: int = 500,
        profiler: Profiler | None = None,
    ) -> processor.DrainResult:
        assert self.project_id is not None
        return processor.drain(
            label=label,
            amqp_url=self.vhost.url,
            database_url=self.db.url,
            project_id=self.project_id,
            per_message=per_message,
            events=events,
            shards=shards,
            batch_size=batch_size,
            profiler=profiler,
        )

    def processor(self) -> None:
        plan, drains = self.plan, self.state.drains
        drains.append(
            self._drain("100-event messages", per_message=100, events=plan.drain_100_events)
        )
        drains.append(self._drain("1-event messages", per_message=1, events=plan.drain_1_events))
        if not self.state.quick:
            drains.append(
                self._drain(
                    "100-event messages, 2 shard queues",
                    per_message=100,
                    events=plan.drain_100_events,
                    shards=2,
                )
            )
        if self.profiler is not None:
            profiled = self._drain(
                "100-event messages (profiled)",
                per_message=100,
                events=plan.drain_100_events // 2,
                profiler=self.profiler,
            )
            self.state.processor_profile = profiled.profile

    def breakdown(self) -> None:
        assert self.project_id is not None
        ensure_topology(Settings(amqp_url=self.vhost.url))
        env = bench_env(
            {
                "LOGSIGHT_DATABASE_URL": self.db.url,
                "LOGSIGHT_AMQP_URL": self.vhost.url,
                "BENCH_KEY": self.project_key,
                "BENCH_PROJECT": str(self.project_id),
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        for which in ("ingest", "processor"):
            out = subprocess.run(
                [PYTHON, "-m", "bench.inproc", which, str(self.plan.inproc_iterations)],
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            if out.returncode != 0:
                raise RuntimeError(f"bench.inproc {which} failed:\n{out.stderr[-3000:]}")
            data = json.loads(out.stdout.strip().splitlines()[-1])
            if which == "ingest":
                self.state.inproc_ingest = data
            else:
                self.state.inproc_processor = data
            log(f"in-process {which}: " + ", ".join(f"{k} {v:.1f}" for k, v in data.items()))
        # What the ingest stages published: no consumer ran, so drop it.
        settings = Settings(amqp_url=self.vhost.url)
        _purge(self.vhost.url, [settings.shard_queue(s) for s in range(settings.shards)])

    # -- the local runtime --------------------------------------------------------------------

    def _runtime(self, env: dict[str, str] | None = None) -> LocalRuntime:
        return LocalRuntime(amqp_url=self.vhost.url, database_url=self.db.url, env=env)

    def _queues(self, shards: int = 2) -> list[str]:
        settings = Settings(amqp_url=self.vhost.url, shards=shards)
        return [settings.shard_queue(s) for s in range(settings.shards)]

    def _meter(self, runtime: LocalRuntime) -> CpuMeter:
        components = {**runtime.info["processes"], "supervisor": runtime.pid}
        return CpuMeter(runtime_classifier(components, self.db.name))

    def _wrk(
        self, runtime: LocalRuntime, script: Path, connections: int, seconds: float
    ) -> HttpRun:
        wrk = http.ensure_wrk()
        meter = self._meter(runtime)
        meter.start()
        result = http.run_wrk(
            wrk, runtime.url, script, connections=connections, threads=1, seconds=seconds
        )
        cpu = meter.stop(extra={"load generator": result.client_cpu_seconds})
        log(f"  CPU cores: {cpu.summary()}")
        return HttpRun(f"{connections} connections", result, cpu)

    def _open_loop(
        self, runtime: LocalRuntime, label: str, bodies: list[bytes], rate: float, seconds: float
    ) -> LatencyRun:
        meter = self._meter(runtime)
        meter.start()
        result = http.open_loop(runtime.url, runtime.key, bodies, rate=rate, seconds=seconds)
        cpu = meter.stop(extra={"load generator": result.client_cpu_seconds})
        log(f"  CPU cores: {cpu.summary()}")
        return LatencyRun(label, result, cpu)

    def runtime_session(self) -> None:
        runtime = self._runtime()
        try:
            runtime.start()
        except Exception as exc:
            self.state.failures.append(f"runtime: {exc!r}")
            runtime.cleanup()
            return
        sampler: MemorySampler | None = None
        try:
            if "memory" in self.state.sections:
                time.sleep(3)  # let start-up settle
                samples = []
                for _ in range(3):
                    samples.append(tree_memory(runtime.pid))
                    time.sleep(0.5)
                self.state.memory_idle = max(samples, key=lambda s: s.pss_mb)
                log(f"idle memory: PSS {self.state.memory_idle.pss_mb:.0f} MB")
            sampler = MemorySampler(runtime.pid)
            sampler.start()
            self.section("ingest", lambda: self.ingest(runtime))
            self.section("e2e", lambda: self.end_to_end(runtime))
            if "memory" in self.state.sections and "ingest" not in self.state.sections:
                self.section("memory", lambda: self.memory_load_only(runtime))
            if sampler is not None:
                self.state.memory_load = sampler.stop()
                sampler = None
                if self.state.memory_load:
                    log(f"peak memory under load: PSS {self.state.memory_load.pss_mb:.0f} MB")
            self.section("whatif", lambda: self.whatif(runtime))
        finally:
            if sampler is not None:
                self.state.memory_load = sampler.stop()
                if self.state.memory_load:
                    log(f"peak memory under load: PSS {self.state.memory_load.pss_mb:.0f} MB")
            runtime.cleanup()

    def _scripts(self, runtime: LocalRuntime) -> tuple[Path, Path]:
        WORK_DIR.mkdir(parents=True, exist_ok=True)
        single = http.write_lua(
            WORK_DIR / "single.lua",
            key=runtime.key,
            bodies=[request_body([sample_event(self.rng)]) for _ in range(64)],
        )
        hundred = http.write_lua(
            WORK_DIR / "hundred.lua",
            key=runtime.key,
            bodies=[request_body([sample_event(self.rng) for _ in range(100)]) for _ in range(8)],
        )
        return single, hundred

    def ingest(self, runtime: LocalRuntime) -> None:
        plan = self.plan
        single, hundred = self._scripts(runtime)
        queues = self._queues()
        # Warm-up: every handler thread opens its broker connection on first use.
        http.run_wrk(http.ensure_wrk(), runtime.url, single, connections=64, threads=1, seconds=2)
        wait_for_empty_queues(self.vhost.url, queues)
        for connections in plan.wrk_connections:
            self.state.single.append(self._wrk(runtime, single, connections, plan.wrk_seconds))
            wait_for_empty_queues(self.vhost.url, queues)
        best = max(self.state.single, key=lambda r: r.wrk.per_second)

        bodies = [request_body([sample_event(self.rng)]) for _ in range(64)]
        self.state.latency.append(
            self._open_loop(
                runtime, "100 req/s (light load)", bodies, 100, plan.latency_seconds / 2
            )
        )
        half = max(best.wrk.per_second / 2, 10)
        self.state.latency.append(
            self._open_loop(
                runtime, "half the measured maximum", bodies, round(half), plan.latency_seconds
            )
        )
        wait_for_empty_queues(self.vhost.url, queues)

        for connections in plan.wrk_hundred_connections:
            self.state.hundred.append(self._wrk(runtime, hundred, connections, plan.wrk_seconds))
            wait_for_empty_queues(self.vhost.url, queues, timeout=180)

        if self.profiler is not None:
            spy = self.profiler.start(runtime.pid_of("gateway"), "gateway-single-event")
            run = self._wrk(runtime, single, best.wrk.connections, min(plan.wrk_seconds, 6))
            self.state.gateway_profile = spy.stop()
            self.state.gateway_profile_rate = run.wrk.per_second
            wait_for_empty_queues(self.vhost.url, queues)

    def end_to_end(self, runtime: LocalRuntime) -> None:
        result = e2e.measure(
            url=runtime.url,
            key=runtime.key,
            database_url=self.db.url,
            project_id=runtime.project_id,
            rate=self.plan.e2e_rate,
            seconds=self.plan.e2e_seconds,
        )
        self.state.e2e.append(("defaults (batch window 0.5 s)", result))

    def whatif(self, runtime: LocalRuntime) -> None:
        """Suggestion check: the same gateway as several processes sharing one port."""
        single, _ = self._scripts(runtime)
        queues = self._queues()
        env = bench_env(
            {
                "LOGSIGHT_DATABASE_URL": self.db.url,
                "LOGSIGHT_AMQP_URL": self.vhost.url,
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        for processes, pool in self.plan.whatif_gateways:
            port = free_port()
            procs = [
                subprocess.Popen(
                    [PYTHON, "-m", "bench.multigateway", str(port), str(pool)],
                    env=env,
                    cwd=REPO,
                )
                for _ in range(processes)
            ]
            try:
                url = f"http://127.0.0.1:{port}"
                _wait_http(f"{url}/health", procs)
                time.sleep(1.0)  # every process listening, not just the first
                components = {f"gateway-{i}": p.pid for i, p in enumerate(procs)}
                # The runtime's own gateway is idle here; its processor writes what is accepted.
                components.update(
                    {k: v for k, v in runtime.info["processes"].items() if k != "gateway"}
                )
                wrk = http.ensure_wrk()
                http.run_wrk(wrk, url, single, connections=64, threads=1, seconds=2)
                wait_for_empty_queues(self.vhost.url, queues)
                meter = CpuMeter(runtime_classifier(components, self.db.name))
                meter.start()
                result = http.run_wrk(
                    wrk, url, single, connections=64, threads=1, seconds=self.plan.wrk_seconds
                )
                cpu = meter.stop(extra={"load generator": result.client_cpu_seconds})
                for i in range(processes):
                    cpu.groups["gateway"] = cpu.groups.get("gateway", 0.0) + cpu.groups.pop(
                        f"gateway-{i}", 0.0
                    )
                log(f"  CPU cores: {cpu.summary()}")
                self.state.whatif.append(
                    (processes, pool, HttpRun(f"{processes} x {pool}", result, cpu))
                )
                wait_for_empty_queues(self.vhost.url, queues)
            finally:
                for proc in procs:
                    proc.terminate()
                for proc in procs:
                    try:
                        proc.wait(15)
                    except subprocess.TimeoutExpired:
                        proc.kill()
                        proc.wait()

    def memory_load_only(self, runtime: LocalRuntime) -> None:
        single, _ = self._scripts(runtime)
        self.state.single.append(self._wrk(runtime, single, 32, self.plan.wrk_seconds))

    def knobs(self) -> None:
        """A few values of the documented tuning knobs, one runtime start each."""
        plan = self.plan
        for workers in plan.knob_workers:
            runtime = self._runtime({"LOGSIGHT_GATEWAY_WORKERS": workers})
            try:
                runtime.start()
                single, _ = self._scripts(runtime)
                wrk = http.ensure_wrk()
                http.run_wrk(wrk, runtime.url, single, connections=64, threads=1, seconds=2)
                wait_for_empty_queues(self.vhost.url, self._queues())
                run = self._wrk(runtime, single, 64, plan.wrk_seconds)
                self.state.knobs.append(
                    Knob(
                        "LOGSIGHT_GATEWAY_WORKERS",
                        workers,
                        "single-event req/s (wrk, 64 connections)",
                        run.wrk.per_second,
                        "req/s",
                        f"p99 {run.wrk.p99_ms:.0f} ms;"
                        f" gateway {run.cpu.cores('gateway'):.2f} cores",
                    )
                )
            finally:
                runtime.cleanup()
        runtime = self._runtime({"LOGSIGHT_BATCH_WINDOW_SECONDS": "0.1"})
        try:
            runtime.start()
            result = e2e.measure(
                url=runtime.url,
                key=runtime.key,
                database_url=self.db.url,
                project_id=runtime.project_id,
                rate=plan.e2e_rate,
                seconds=plan.e2e_seconds * 2 / 3,
            )
            self.state.e2e.append(("LOGSIGHT_BATCH_WINDOW_SECONDS=0.1", result))
            self.state.knobs.append(
                Knob(
                    "LOGSIGHT_BATCH_WINDOW_SECONDS",
                    "0.1",
                    "202→queryable p50",
                    result.p50_ms,
                    "ms",
                    f"p99 {result.p99_ms:.0f} ms",
                )
            )
        finally:
            runtime.cleanup()
        drained = self._drain(
            "1-event messages, batch size 2000",
            per_message=1,
            events=plan.drain_1_events,
            batch_size=2000,
        )
        self.state.drains.append(drained)
        self.state.knobs.append(
            Knob(
                "LOGSIGHT_BATCH_SIZE",
                "2000",
                "processor events/s, 1-event messages",
                drained.steady_events_per_second,
                "events/s",
            )
        )


def _copy_rows(project_id: UUID, rng: random.Random) -> list[tuple[object, ...]]:
    from logsight.processing.rows import message_rows
    from logsight.queue.message import decode

    message = decode(message_body(project_id, [sample_event(rng) for _ in range(1000)]))
    return [row.copy_values() for row in message_rows(message)]


def _wait_http(url: str, procs: list[subprocess.Popen[bytes]], timeout: float = 60) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a gateway process exited during start-up")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def _purge(amqp_url: str, queues: list[str]) -> None:
    import pika

    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0
    with pika.BlockingConnection(params) as connection:
        channel = connection.channel()
        for queue in queues:
            channel.queue_purge(queue)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="short smoke run")
    parser.add_argument(
        "--only", default="", help=f"comma-separated sections: {', '.join(SECTIONS)}"
    )
    parser.add_argument("--output", type=Path, default=None, help="markdown file to write")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy profiles")
    parser.add_argument(
        "--wait-idle",
        type=float,
        default=None,
        help="wait up to this many seconds for other work on the machine to calm down"
        " (default 60, quick 0)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(only) - set(SECTIONS)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}; use {', '.join(SECTIONS)}")
        return 2
    sections = only or SECTIONS
    partial = bool(only) or args.quick
    output = args.output or (PARTIAL_OUTPUT if partial else DEFAULT_OUTPUT)
    command = " ".join([".venv/bin/python -m bench.run", *map(shlex.quote, argv or sys.argv[1:])])
    state = State(command=command, quick=args.quick, sections=sections, started=datetime.now(UTC))
    plan = Plan.for_mode(args.quick)

    wait = args.wait_idle if args.wait_idle is not None else (0 if args.quick else 60)
    if wait > 0:
        log(f"waiting up to {wait:.0f} s for the machine to be quiet")
        wait_for_quiet(wait)
    state.background_cores = background_load(2.0)
    log(f"background load before the run: {state.background_cores:.2f} cores")
    if {"ingest", "processor"} & set(sections):
        http.ensure_wrk()
    profiler = None
    if not args.no_profile and {"ingest", "processor"} & set(sections):
        spy = ensure_py_spy()
        if spy is not None:
            profiler = Profiler(spy, WORK_DIR / "profiles")

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # clean up (database, vhost, processes) as on ^C
    began = time.monotonic()
    try:
        Bench(state, plan, profiler).run()
    except KeyboardInterrupt:
        state.failures.append("interrupted")
        log("interrupted; cleaned up")
    state.finished = datetime.now(UTC)
    from bench.report import render
    from bench.soak_report import existing_section, splice_section

    # Kept so the page can be re-rendered without measuring again: python -m bench.report
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception), (WORK_DIR / "last-state.pickle").open("wb") as f:
        pickle.dump((state, plan), f)

    output.parent.mkdir(parents=True, exist_ok=True)
    page = render(state, plan)
    # The soak (python -m bench.soak), the alert evaluation (python -m bench.alerts) and the
    # dashboard's sizes (python -m bench.web_size) write their own sections of the same page:
    # keep them.
    from bench.alerts import BEFORE as ALERTS_BEFORE
    from bench.alerts import HEADING as ALERTS_HEADING
    from bench.web_size import BEFORE as WEB_BEFORE
    from bench.web_size import HEADING as WEB_HEADING

    previous = output.read_text() if output.exists() else ""
    if (soak := existing_section(previous)) is not None:
        page = splice_section(page, soak)
    if (alerts := existing_section(previous, ALERTS_HEADING)) is not None:
        page = splice_section(page, alerts, heading=ALERTS_HEADING, before=ALERTS_BEFORE)
    if (web := existing_section(previous, WEB_HEADING)) is not None:
        page = splice_section(page, web, WEB_HEADING, WEB_BEFORE)
    output.write_text(page)
    log(f"wrote {output} after {(time.monotonic() - began) / 60:.1f} min")
    return 1 if state.failures else 0


if __name__ == "__main__":
    # Run as bench.run rather than __main__, so that the saved state unpickles elsewhere.
    from bench import run as _bench_run  # noqa: PLW0406

    sys.exit(_bench_run.main())
