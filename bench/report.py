"""docs/benchmarks.md from one run's measurements.

Every number in the page comes from the run that wrote it; the explanations are computed from
the same run's CPU accounting, profiles and in-process breakdowns, so they stay true when the
code changes and the bench is run again.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.common import fmt_number
from bench.cpu import KERNEL
from bench.machine import cpu_count

if TYPE_CHECKING:
    from bench.cpu import CpuReport
    from bench.e2e import E2EResult
    from bench.processor import DrainResult
    from bench.profiling import Profile
    from bench.raw import PublishRate
    from bench.run import HttpRun, LatencyRun, Plan, State

GOAL_SINGLE_RPS = 3000.0
GOAL_HALF_P99_MS = 20.0
GOAL_HUNDRED_EPS = 60000.0
GOAL_PROCESSOR_EPS = 30000.0
GOAL_PROCESSOR_RATIO = 0.40
GOAL_E2E_P50_MS = 1000.0
GOAL_E2E_P99_MS = 3000.0
GOAL_IMPORT_MS = 150.0
GOAL_IDLE_MB = 600.0
GOAL_LOAD_MB = 1024.0

NA = "n/a"


# -- markdown helpers ---------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines.extend("| " + " | ".join(str(c) for c in row) + " |" for row in rows)
    return [*lines, ""]


def met(value: bool | None) -> str:
    return {True: "✅ met", False: "❌ missed", None: NA}[value]


def n(value: float | None, digits: int = 0, unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return NA
    return fmt_number(value, digits) + (f" {unit}" if unit else "")


def pct(value: float | None) -> str:
    return NA if value is None or math.isnan(value) else f"{value:.0%}"


# -- derived numbers ----------------------------------------------------------------------------


def best_publish(state: State, *, large: bool) -> PublishRate | None:
    rates = [p for p in state.publish if (p.body_bytes > 10_000) == large]
    return max(rates, key=lambda p: p.per_second) if rates else None


def single_publish(state: State, *, large: bool) -> PublishRate | None:
    rates = [
        p
        for p in state.publish
        if (p.body_bytes > 10_000) == large and p.publishers == 1 and p.mode == "thread"
    ]
    return rates[0] if rates else None


def raw_copy(state: State) -> tuple[int, float] | None:
    return max(state.copy, key=lambda c: c[1]) if state.copy else None


def best_http(runs: list[HttpRun]) -> HttpRun | None:
    return max(runs, key=lambda r: r.wrk.per_second) if runs else None


def main_drain(state: State) -> DrainResult | None:
    drains = [d for d in state.drains if d.label == "100-event messages"]
    return drains[0] if drains else None


def half_latency(state: State) -> LatencyRun | None:
    runs = [r for r in state.latency if r.label.startswith("half")]
    return runs[0] if runs else None


def default_e2e(state: State) -> E2EResult | None:
    runs = [r for label, r in state.e2e if label.startswith("defaults")]
    return runs[0] if runs else None


def cached_import(state: State) -> float | None:
    times = [t for t in state.import_times if t.module.startswith("functions.ingest") and t.cached]
    return times[0].import_ms if times else None


def us_per(cpu: CpuReport, group: str, rate: float) -> float:
    return cpu.cores(group) / rate * 1e6 if rate else math.nan


SERVICE_GROUPS = ("gateway", "processor", "scheduler", "supervisor", "rabbitmq", "postgresql")


def cpu_budget(cpu: CpuReport, rate: float) -> tuple[dict[str, float], float]:
    """µs of CPU per request (or event) by group, and the total for the service side
    (runtime, broker, database; not the load generator, the bench driver or other users)."""
    per = {g: us_per(cpu, g, rate) for g in cpu.groups}
    service = sum(per.get(g, 0.0) for g in SERVICE_GROUPS)
    return per, service


# -- the page ------------------------------------------------------------------------------------


@dataclass
class Row:
    measurement: str
    result: str
    goal: str
    status: bool | None
    raw: str = NA
    ratio: str = NA
    noise: str = ""


def noise(cpu: CpuReport | None) -> str:
    """Cores taken by other work on the machine during a measurement."""
    return f"{cpu.cores('other'):.2f}" if cpu is not None else ""


def goal_rows(state: State) -> list[Row]:
    rows: list[Row] = []
    single = best_http(state.single)
    small_best, small_one = best_publish(state, large=False), single_publish(state, large=False)
    if single is not None:
        rows.append(
            Row(
                "Single-event requests, max rate (wrk)",
                n(single.wrk.per_second, unit="req/s"),
                f"≥ {n(GOAL_SINGLE_RPS)} req/s",
                single.wrk.per_second >= GOAL_SINGLE_RPS,
                f"{n(small_best.per_second)} msg/s (best parallel publish-with-confirm;"
                f" 1 publisher {n(small_one.per_second if small_one else None)})"
                if small_best
                else NA,
                pct(single.wrk.per_second / small_best.per_second) if small_best else NA,
                noise(single.cpu),
            )
        )
    half = half_latency(state)
    if half is not None:
        confirm_ms = 1000 / small_one.per_second if small_one else None
        rows.append(
            Row(
                f"Latency at half that rate ({n(half.result.rate)} req/s, open loop)",
                f"p50 {n(half.result.p50_ms, 1)} ms, p99 {n(half.result.p99_ms, 1)} ms",
                f"p99 ≤ {n(GOAL_HALF_P99_MS)} ms",
                half.result.p99_ms <= GOAL_HALF_P99_MS,
                f"{n(confirm_ms, 2)} ms per confirmed publish (1 publisher)" if confirm_ms else NA,
                f"p50 = {half.result.p50_ms / confirm_ms:.1f}x a confirm" if confirm_ms else NA,
                noise(half.cpu),
            )
        )
    hundred = best_http(state.hundred)
    large_best = best_publish(state, large=True)
    if hundred is not None:
        eps = hundred.wrk.per_second * 100
        raw_eps = large_best.per_second * 100 if large_best else None
        rows.append(
            Row(
                "100-event requests, events accepted",
                n(eps, unit="events/s") + f" ({n(hundred.wrk.per_second)} req/s)",
                f"≥ {n(GOAL_HUNDRED_EPS)} events/s",
                eps >= GOAL_HUNDRED_EPS,
                f"{n(raw_eps)} events/s ({n(large_best.per_second)} msg/s of 100 events)"
                if large_best
                else NA,
                pct(eps / raw_eps) if raw_eps else NA,
                noise(hundred.cpu),
            )
        )
    drain = main_drain(state)
    copy = raw_copy(state)
    if drain is not None:
        eps = drain.steady_events_per_second
        rows.append(
            Row(
                "Processor, events written per process (100-event messages)",
                n(eps, unit="events/s") + f" ({n(drain.events_per_second)} incl. warm-up)",
                f"≥ {n(GOAL_PROCESSOR_EPS)} events/s",
                eps >= GOAL_PROCESSOR_EPS,
                f"{n(copy[1])} rows/s (bare COPY, {copy[0]}-row batches)" if copy else NA,
                pct(eps / copy[1]) if copy else NA,
                noise(drain.cpu),
            )
        )
        if copy:
            rows.append(
                Row(
                    "Processor as a share of raw COPY",
                    pct(eps / copy[1]),
                    f"≥ {pct(GOAL_PROCESSOR_RATIO)}",
                    eps / copy[1] >= GOAL_PROCESSOR_RATIO,
                )
            )
    result = default_e2e(state)
    if result is not None:
        rows.append(
            Row(
                f"202 → queryable p50 ({n(result.rate)} events/s steady)",
                n(result.p50_ms, unit="ms"),
                f"≤ {n(GOAL_E2E_P50_MS)} ms",
                result.p50_ms <= GOAL_E2E_P50_MS,
            )
        )
        rows.append(
            Row(
                "202 → queryable p99",
                n(result.p99_ms, unit="ms") + f" (max {n(result.max_ms)} ms)",
                f"≤ {n(GOAL_E2E_P99_MS)} ms",
                result.p99_ms <= GOAL_E2E_P99_MS,
            )
        )
    for t in state.import_times:
        if t.module != "functions.ingest.handler":
            continue
        rows.append(
            Row(
                "Ingest handler import, fresh interpreter"
                + (" (with .pyc)" if t.cached else " (no .pyc: this venv as installed)"),
                f"{n(t.import_ms)} ms (process {n(t.process_ms)} ms)",
                f"≤ {n(GOAL_IMPORT_MS)} ms",
                t.import_ms <= GOAL_IMPORT_MS,
            )
        )
    if state.memory_idle is not None:
        rows.append(
            Row(
                "Runtime memory, idle (PSS, PostgreSQL excluded)",
                n(state.memory_idle.pss_mb, unit="MB") + f" (RSS {n(state.memory_idle.rss_mb)})",
                f"≤ {n(GOAL_IDLE_MB)} MB",
                state.memory_idle.pss_mb <= GOAL_IDLE_MB,
            )
        )
    if state.memory_load is not None:
        rows.append(
            Row(
                "Runtime memory, peak under load",
                n(state.memory_load.pss_mb, unit="MB") + f" (RSS {n(state.memory_load.rss_mb)})",
                f"≤ {n(GOAL_LOAD_MB)} MB",
                state.memory_load.pss_mb <= GOAL_LOAD_MB,
            )
        )
    return rows


def cpu_table(runs: Sequence[tuple[str, CpuReport, float]], unit: str) -> list[str]:
    """Cores used per group, and µs of CPU per request/event, for each run."""
    groups: list[str] = []
    for _, cpu, _ in runs:
        groups.extend(g for g in cpu.groups if g not in groups and cpu.groups[g] > 0)
    order = [
        g
        for g in (*SERVICE_GROUPS, "load generator", "bench driver", "py-spy", KERNEL, "other")
        if g in groups
    ]
    rows = []
    for label, cpu, rate in runs:
        cells = [label]
        for g in order:
            cells.append(f"{cpu.cores(g):.2f} ({n(us_per(cpu, g, rate))} µs)")
        cells.append(f"{cpu.machine_busy / cpu.wall_seconds:.2f} / {cpu_count()}")
        rows.append(cells)
    return table(["run", *[f"{g}: cores (µs/{unit})" for g in order], "machine busy"], rows)


def profile_block(profile: Profile, title: str, *, threaded: bool = False) -> list[str]:
    caveat = (
        " With every core busy, a thread can be handed the GIL and then wait for a CPU, so "
        "small functions right after a thread switch (future and work-item creation, `send`) "
        "collect more samples than their work; the library shares are the robust part."
        if threaded
        else ""
    )
    lines = [
        f"**{title}** — {profile.samples} samples of the thread holding the GIL "
        f"(py-spy `--gil --nonblocking`, raw stacks: `{profile.raw_path}`).{caveat}",
        "",
    ]
    lines += table(
        ["library (self time)", "share"], [(k, pct(v)) for k, v in profile.libraries(10)]
    )
    lines += table(
        ["function (inclusive)", "share"],
        [(f"`{k}`", pct(v)) for k, v in profile.top_inclusive(40) if not _boring(k)][:18],
    )
    return lines


def _boring(label: str) -> bool:
    boring = ("threading.py", "<frozen runpy>", "asyncio/runners.py", "logsight/cli.py")
    return any(b in label for b in boring) or label.startswith(("_run_code", "run ("))


def limits_text(state: State) -> list[str]:
    """What limits each number, computed from this run's CPU accounting and breakdowns."""
    out: list[str] = []
    cores = cpu_count()
    single = best_http(state.single)
    if single is not None:
        rate = single.wrk.per_second
        per, service = cpu_budget(single.cpu, rate)
        ceiling = cores / service * 1e6 if service else math.nan
        gateway_cores = single.cpu.cores("gateway")
        out.append(
            f"- **Single-event requests ({n(rate)} req/s).** The machine was "
            f"{single.cpu.machine_busy / single.cpu.wall_seconds:.2f} of {cores} cores busy. "
            f"Each request cost {n(service)} µs of CPU across the service side: gateway "
            f"{n(per.get('gateway'))} µs, RabbitMQ {n(per.get('rabbitmq'))} µs, processor "
            f"{n(per.get('processor'))} µs, PostgreSQL {n(per.get('postgresql'))} µs "
            f"(wrk itself {n(per.get('load generator'))} µs, kernel and other processes "
            f"{n(per.get('other'))} µs). Even with perfect parallelism {cores} cores would "
            f"therefore carry at most ~{n(ceiling)} req/s with today's per-request cost, so "
            f"{n(GOAL_SINGLE_RPS)} req/s needs the cost per request to fall by "
            f"{service / (cores / GOAL_SINGLE_RPS * 1e6):.1f}x on this machine. The gateway is "
            f"one Python process ({gateway_cores:.2f} cores here): its thread pool shares one "
            f"GIL, so it cannot use more than about one core however many workers it has."
        )
        ingest = state.inproc_ingest
        if ingest:
            out.append(
                f"  In-process, one thread: the ingest handler without the publish costs "
                f"{n(ingest.get('handler_no_publish_1'))} µs per single-event request; the "
                f"publish with its confirm takes {n(ingest.get('publish_confirm_1'))} µs of "
                f"wall time (a broker round trip with a quorum-queue fsync); the whole handler "
                f"{n(ingest.get('real_handler_1'))} µs. So most of the gateway's "
                f"{n(per.get('gateway'))} µs per request is spent outside the handler's own "
                f"logic: HTTP parsing and ASGI in uvicorn, the event-loop ↔ thread-pool hand-off, "
                f"py-amqp frame handling and GIL contention between 32 threads (see the profile)."
            )
    half = half_latency(state)
    if half is not None:
        out.append(
            f"- **Latency at {n(half.result.rate)} req/s**: p50 {n(half.result.p50_ms, 1)} ms, "
            f"p99 {n(half.result.p99_ms, 1)} ms. The floor is the publisher confirm "
            f"(quorum queue: Raft log write and fsync before the confirm); the tail comes from "
            f"CPU contention on {cores} cores shared by the gateway, RabbitMQ, the processor "
            f"writing the same events, PostgreSQL and the generator itself."
        )
    hundred = best_http(state.hundred)
    if hundred is not None:
        per, service = cpu_budget(hundred.cpu, hundred.wrk.per_second * 100)
        out.append(
            f"- **100-event requests ({n(hundred.wrk.per_second * 100)} events/s).** Per event: "
            f"gateway {n(per.get('gateway'), 1)} µs, RabbitMQ {n(per.get('rabbitmq'), 1)} µs, "
            f"processor {n(per.get('processor'), 1)} µs, PostgreSQL "
            f"{n(per.get('postgresql'), 1)} µs; gateway process at "
            f"{hundred.cpu.cores('gateway'):.2f} cores."
            + (
                f" Validation dominates the gateway: in-process, normalizing 100 events "
                f"takes {n(state.inproc_ingest.get('normalize_100'))} µs and the whole "
                f"handler without the publish "
                f"{n(state.inproc_ingest.get('handler_no_publish_100'))} µs (the sanitizing "
                f"walk, pydantic validation and dumping back to dicts, per event)."
                if state.inproc_ingest
                else ""
            )
            + " The processor writes what is accepted at the same time, on the same cores."
        )
    drain = main_drain(state)
    if drain is not None and drain.cpu is not None:
        eps = drain.steady_events_per_second
        per, _ = cpu_budget(drain.cpu, eps)
        text = (
            f"- **Processor ({n(eps)} events/s).** During the drain the processor process used "
            f"{drain.cpu.cores('processor'):.2f} cores and PostgreSQL "
            f"{drain.cpu.cores('postgresql'):.2f} cores ({n(per.get('processor'), 1)} + "
            f"{n(per.get('postgresql'), 1)} µs per event). Neither is saturated: each poller "
            f"works strictly in series (decode and build rows in Python, then COPY and INSERT "
            f"while Python waits, then ack), so the time per event is the *sum* of the two."
        )
        proc = state.inproc_processor
        if proc:
            tag = "100x48"
            python_us = sum(
                proc.get(f"{k}_{tag}", 0.0)
                for k in (
                    "poller_event_build",
                    "records_from_event",
                    "decode",
                    "message_rows",
                    "copy_values",
                )
            )
            db_us = sum(
                proc.get(f"{k}_{tag}", 0.0)
                for k in ("db_copy_staging", "db_insert_events_rollups", "db_commit")
            )
            explain = {
                k.split("::", 1)[1]: v for k, v in proc.items() if k.startswith(f"explain_{tag}::")
            }
            events_us = explain.get("events", 0.0)
            total_us = explain.get("total", 0.0)
            text += (
                f" In-process, per event of a 4,800-event batch: Python "
                f"{n(python_us, 1)} µs (poller event building "
                f"{n(proc.get(f'poller_event_build_{tag}'), 1)}, aws:rmq parsing + base64 "
                f"{n(proc.get(f'records_from_event_{tag}'), 1)}, JSON decode "
                f"{n(proc.get(f'decode_{tag}'), 1)}, row building "
                f"{n(proc.get(f'message_rows_{tag}'), 1)}, COPY tuples "
                f"{n(proc.get(f'copy_values_{tag}'), 1)}) and database {n(db_us, 1)} µs (COPY "
                f"into the staging table {n(proc.get(f'db_copy_staging_{tag}'), 1)} — mostly "
                f"psycopg formatting rows in Python — INSERT … ON CONFLICT with the rollups "
                f"{n(proc.get(f'db_insert_events_rollups_{tag}'), 1)}, commit "
                f"{n(proc.get(f'db_commit_{tag}'), 1)}); the whole handler "
                f"{n(proc.get(f'handler_total_{tag}'), 1)} µs. EXPLAIN ANALYZE of the INSERT: "
                f"{n(total_us, 1)} µs per event, of which the `events` insert (primary key and "
                f"four indexes) {n(events_us, 1)} µs and all rollup tables together "
                f"{n(sum(v for k, v in explain.items() if k not in ('events', 'total')), 1)} µs."
            )
        copy = raw_copy(state)
        if copy:
            text += (
                f" The bare COPY reaches {n(copy[1])} rows/s because it does only the index "
                f"work plus psycopg's row formatting, once, with no staging table and no Python "
                f"per-event model building."
            )
        two = [d for d in state.drains if "2 shard" in d.label]
        if two:
            text += (
                f" Two shard queues in the same process gave {n(two[0].steady_events_per_second)}"
                f" events/s: the pollers share one GIL and {cores} cores with PostgreSQL."
            )
        out.append(text)
    result = default_e2e(state)
    if result is not None:
        out.append(
            f"- **202 → queryable** (p50 {n(result.p50_ms)} ms, p99 {n(result.p99_ms)} ms at "
            f"{n(result.rate)} events/s): dominated by the poller's batching window "
            f"(LOGSIGHT_BATCH_WINDOW_SECONDS, 0.5 s by default: a batch is invoked when it is "
            f"full or when its first message has waited that long; at a low rate it is never "
            f"full), plus the batch's write; polling every {result.poll_seconds * 1000:.0f} ms "
            f"adds about {result.poll_seconds * 500:.0f} ms on average."
        )
    cached = [t for t in state.import_times if t.cached and t.module.endswith("ingest.handler")]
    uncached = [t for t in state.import_times if not t.cached]
    if cached:
        t = cached[0]
        top = ", ".join(f"{name} {n(own)} ms" for name, own, _ in t.by_package[:6])
        psycopg_cum = next((cum for name, _, cum in t.by_package if name == "psycopg"), None)
        out.append(
            f"- **Import time** ({n(t.import_ms)} ms with bytecode caches): own time by "
            f"package: {top}. Importing psycopg alone takes {n(psycopg_cum)} ms cumulative (it "
            f"also imports asyncio); ingest needs it only for the ingest-key look-up."
            + (
                f" Without .pyc files (how this venv is installed: uv does not compile "
                f"bytecode and PYTHONDONTWRITEBYTECODE is set here) the same import takes "
                f"{n(uncached[0].import_ms)} ms — a Lambda package shipped without .pyc files "
                f"pays that on every cold start, since /var/task is read-only."
                if uncached
                else ""
            )
        )
    if state.memory_idle is not None:
        by_process = ", ".join(
            f"{k} {n(v)} MB" for k, v in sorted(state.memory_idle.per_process.items())
        )
        out.append(
            f"- **Memory**: idle {n(state.memory_idle.pss_mb)} MB PSS ({by_process})"
            + (
                f"; peak under load {n(state.memory_load.pss_mb)} MB ("
                + ", ".join(
                    f"{k} {n(v)} MB" for k, v in sorted(state.memory_load.per_process.items())
                )
                + ")"
                if state.memory_load
                else ""
            )
            + ". Four Python processes each carry their own interpreter and imports."
        )
    return out


def render(state: State, plan: Plan) -> str:
    lines: list[str] = ["# LogSight benchmarks", ""]
    duration = (
        f"{(state.finished - state.started).total_seconds() / 60:.1f} min"
        if state.finished
        else "?"
    )
    lines += [
        f"Generated by `{state.command}` (the `make bench` target runs "
        f"`.venv/bin/python -m bench.run`) on {state.started:%Y-%m-%d %H:%M} UTC; "
        f"the run took {duration}. Mode: {'quick' if state.quick else 'full'}; "
        f"sections: {', '.join(state.sections)}. Storage mode of the bench database: "
        f"{state.storage_mode}.",
        "",
        "Everything runs on this one machine, against loopback only, in a database and a "
        "RabbitMQ vhost created for the run and dropped at its end. **The load generators "
        "(wrk, the open-loop generator, the bench driver) share the same "
        f"{cpu_count()} cores with the gateway, the processor, RabbitMQ and PostgreSQL**; the "
        "CPU tables below show how much each took.",
        "",
        "The API's queries at scale (10 million events over 7 days: time series, summary, unique "
        "users, search) are measured by `make bench-api` (`python -m bench.api_queries`) and "
        "reported in [benchmarks-api.md](benchmarks-api.md); Lambda asset sizes are in "
        "[deploy.md](deploy.md).",
        "",
        "## Machine",
        "",
    ]
    lines += table(["", ""], sorted(state.machine.items()))
    lines += [
        f"Background load when the run started (other processes, the bench idle): "
        f"{state.background_cores:.2f} cores."
        + (
            " **The machine was shared with other work during this run; numbers are lower and "
            "noisier than on a quiet machine** (see the `other` column of the CPU tables)."
            if state.background_cores > 0.25
            else ""
        ),
        "",
    ]
    if state.failures:
        lines += ["**Sections that failed:**", ""]
        lines += [f"- {f}" for f in state.failures]
        lines += [""]

    lines += ["## Results against the goals", ""]
    lines += table(
        [
            "measurement",
            "result",
            "goal",
            "status",
            "raw limit, same run",
            "ratio to raw",
            "other load (cores)",
        ],
        [
            (r.measurement, r.result, r.goal, met(r.status), r.raw, r.ratio, r.noise)
            for r in goal_rows(state)
        ],
    )
    lines += [
        "*Other load*: cores used during that measurement by processes that are not part of "
        "the runtime, the broker, the bench's database or the load generator (other users of "
        "this machine, including their PostgreSQL backends; exited processes; interrupts); "
        "anything above ~0.1 took CPU away from the measurement.",
        "",
    ]
    lines += ["## What limits each number", ""]
    lines += limits_text(state)
    lines += [""]
    lines += details(state, plan)
    lines += findings(state)
    lines += method(state, plan)
    return "\n".join(lines).rstrip() + "\n"


def details(state: State, plan: Plan) -> list[str]:
    lines: list[str] = ["## Details", ""]
    if state.publish or state.copy:
        lines += ["### Raw limits", ""]
        lines += [
            "Bare pika `BlockingConnection` with `confirm_delivery()`: persistent messages, "
            "`mandatory`, through a direct exchange into a durable quorum queue declared with "
            "the shard queues' arguments; each publisher sends one message at a time and waits "
            "for its confirm. Bodies are real ingest messages (one event, and 100 events). "
            f"{plan.publish_seconds:g} s per configuration.",
            "",
        ]
        lines += table(
            ["publishers", "message", "confirmed msg/s", "events/s"],
            [
                (
                    f"{p.publishers} {p.mode}{'es' if p.mode == 'process' else 's'}"
                    if p.publishers > 1
                    else f"1 {p.mode}",
                    f"{p.body_bytes:,} B",
                    n(p.per_second),
                    n(p.per_second * (100 if p.body_bytes > 10_000 else 1)),
                )
                for p in state.publish
            ],
        )
        if state.copy:
            lines += [
                f"Bare psycopg COPY (`write_row` of prepared tuples, one transaction per batch, "
                f"{plan.copy_rows:,} rows) into `CREATE TABLE … (LIKE events INCLUDING ALL)`: "
                f"the same columns, primary key and four indexes, no partitioning.",
                "",
            ]
            lines += table(
                ["batch", "rows/s"], [(f"{b:,} rows", n(rate)) for b, rate in state.copy]
            )
    if state.single:
        lines += ["### Single-event requests (wrk, closed loop)", ""]
        lines += [
            "`wrk -t1 -cN` with a Lua script cycling 64 different realistic events (~600 B "
            "bodies), `POST /v1/events` with `X-LogSight-Key`, through the whole local runtime "
            "(defaults: 32 gateway workers, 2 shards, batch 500, window 0.5 s); the processor "
            "writes the accepted events meanwhile.",
            "",
        ]
        lines += table(
            ["connections", "req/s", "p50", "p99", "non-2xx", "socket errors"],
            [
                (
                    r.wrk.connections,
                    n(r.wrk.per_second),
                    n(r.wrk.p50_ms, 1, "ms"),
                    n(r.wrk.p99_ms, 1, "ms"),
                    r.wrk.non_2xx,
                    r.wrk.socket_errors,
                )
                for r in state.single
            ],
        )
        lines += ["CPU during these runs (cores, and µs of CPU per request):", ""]
        lines += cpu_table([(r.label, r.cpu, r.wrk.per_second) for r in state.single], "req")
    if state.latency:
        lines += ["### Latency at a fixed rate (open loop)", ""]
        lines += [
            "Debian's wrk has no constant-rate mode, so `bench/http.py` schedules requests at "
            "exact instants over pre-opened keep-alive connections (asyncio + uvloop) and "
            "measures each latency from its *scheduled* send time to the end of the response, "
            "so a stalled server is charged for the requests it delayed (no coordinated "
            "omission).",
            "",
        ]
        lines += table(
            ["rate", "requests/s", "duration", "p50", "p99", "max", "statuses", "connections used"],
            [
                (
                    r.label,
                    n(r.result.rate),
                    f"{r.result.seconds:g} s",
                    n(r.result.p50_ms, 1, "ms"),
                    n(r.result.p99_ms, 1, "ms"),
                    n(max(r.result.latencies_ms, default=math.nan), 1, "ms"),
                    ", ".join(f"{k}: {v}" for k, v in sorted(r.result.statuses.items())),
                    r.result.max_connections,
                )
                for r in state.latency
            ],
        )
        lines += cpu_table([(r.label, r.cpu, r.result.rate) for r in state.latency], "req")
    if state.hundred:
        lines += ["### 100-event requests (wrk)", ""]
        lines += [
            "Same as above with 8 different 100-event bodies (~68 KB each).",
            "",
        ]
        lines += table(
            ["connections", "req/s", "events/s", "p50", "p99", "non-2xx"],
            [
                (
                    r.wrk.connections,
                    n(r.wrk.per_second),
                    n(r.wrk.per_second * 100),
                    n(r.wrk.p50_ms, 1, "ms"),
                    n(r.wrk.p99_ms, 1, "ms"),
                    r.wrk.non_2xx,
                )
                for r in state.hundred
            ],
        )
        lines += cpu_table(
            [(r.label, r.cpu, r.wrk.per_second * 100) for r in state.hundred], "event"
        )
    if state.drains:
        lines += ["### Processor", ""]
        lines += [
            "The real processor process (`python -m logsight.cli local processor`: one "
            "QueuePoller thread per shard queue invoking functions/processor/handler.py with "
            "aws:rmq events), on its own exchange and queue prefix in the bench vhost. Queues "
            "are pre-filled with messages built as ingest builds them (`normalize_event` → "
            "`EventMessage.encode()`), then the process is started. Progress is read every 50 "
            "ms from `event_rollups_1m`, which the processor maintains in the same transaction "
            "from exactly the inserted rows (cheap and exact, in both layouts). "
            "*Steady* is the rate between 10 % and 90 % of the rows written; *overall* runs "
            "from the first message taken to the last row written, first-batch warm-up (such "
            "as the user-agent parser's lazy set-up) included.",
            "",
        ]
        lines += table(
            [
                "messages",
                "events",
                "queues",
                "batch size",
                "steady events/s",
                "overall events/s",
                "processor cores",
                "PostgreSQL cores",
                "peak PSS",
            ],
            [
                (
                    d.label,
                    f"{d.events:,}",
                    d.shards,
                    d.batch_size,
                    n(d.steady_events_per_second),
                    n(d.events_per_second),
                    f"{d.cpu.cores('processor'):.2f}" if d.cpu else NA,
                    f"{d.cpu.cores('postgresql'):.2f}" if d.cpu else NA,
                    n(d.peak_pss_mb, unit="MB"),
                )
                for d in state.drains
            ],
        )
        lines += cpu_table(
            [(d.label, d.cpu, d.steady_events_per_second) for d in state.drains if d.cpu],
            "event",
        )
    if state.e2e:
        lines += ["### 202 → queryable", ""]
        lines += [
            "Single-event requests at a steady rate, open loop, each with its own event_id and "
            "a run marker; a watcher polls `events` every 50 ms; latency = first seen - 202 "
            "received.",
            "",
        ]
        lines += table(
            ["configuration", "rate", "seen / accepted", "p50", "p99", "max"],
            [
                (
                    label,
                    f"{n(r.rate)} events/s for {r.seconds:.0f} s",
                    f"{r.seen} / {r.accepted}",
                    n(r.p50_ms, unit="ms"),
                    n(r.p99_ms, unit="ms"),
                    n(r.max_ms, unit="ms"),
                )
                for label, r in state.e2e
            ],
        )
    if state.import_times:
        lines += ["### Import time", ""]
        lines += table(
            [
                "module",
                "bytecode",
                "import (perf_counter), median / min",
                "whole process, median / min",
                "runs",
            ],
            [
                (
                    t.module,
                    "cached .pyc" if t.cached else "none (compiled on import)",
                    f"{n(t.import_ms)} / {n(t.import_min_ms)} ms",
                    f"{n(t.process_ms)} / {n(t.process_min_ms)} ms",
                    t.runs,
                )
                for t in state.import_times
            ],
        )
        for t in state.import_times:
            lines += [
                f"`python -X importtime -c 'import {t.module}'`"
                f" ({'with' if t.cached else 'without'} .pyc), by top-level package:",
                "",
            ]
            lines += table(
                ["package", "own time (all its modules)", "cumulative of `import package`"],
                [(p, n(own, 1, "ms"), n(cum, 1, "ms")) for p, own, cum in t.by_package[:10]],
            )
    if state.memory_idle or state.memory_load:
        lines += ["### Memory", ""]
        lines += [
            "Sum of PSS (proportional set size, so shared pages are split between processes "
            "rather than counted in each) over the supervisor and all its descendants, from "
            "/proc/PID/smaps_rollup; PostgreSQL is external (LOGSIGHT_DATABASE_URL) and not "
            "included. Idle: 3 s after start-up. Under load: peak of samples every 0.5 s "
            "through the ingest and 202→queryable runs. Memory over half an hour of load, "
            "embedded PostgreSQL included: *Memory under sustained load (soak)* below.",
            "",
        ]
        rows = []
        for label, sample in (("idle", state.memory_idle), ("peak under load", state.memory_load)):
            if sample is None:
                continue
            rows.append(
                (
                    label,
                    n(sample.pss_mb, unit="MB"),
                    n(sample.rss_mb, unit="MB"),
                    ", ".join(f"{k} {n(v)}" for k, v in sorted(sample.per_process.items())),
                )
            )
        lines += table(["state", "PSS", "RSS", "PSS by process (MB)"], rows)
    if state.knobs:
        lines += ["### Tuning knobs", ""]
        lines += [
            "Each value is a fresh runtime (or processor) with that one variable changed; "
            "compare with the defaults above (LOGSIGHT_GATEWAY_WORKERS=32, "
            "LOGSIGHT_BATCH_WINDOW_SECONDS=0.5, LOGSIGHT_BATCH_SIZE=500, LOGSIGHT_SHARDS=2).",
            "",
        ]
        lines += table(
            ["setting", "value", "measured", "result", "note"],
            [(k.setting, k.value, k.metric, n(k.result, unit=k.unit), k.note) for k in state.knobs],
        )
    if state.whatif:
        lines += ["### What-if: the gateway as several processes", ""]
        lines += [
            "`python -m bench.multigateway`: the unchanged `Gateway` with the default routes "
            "and handlers, served as `serve()` does, but by N processes sharing one port "
            "through SO_REUSEPORT (each with its own thread pool), next to the running "
            "runtime's processor. wrk, 64 connections, single-event bodies.",
            "",
        ]
        lines += table(
            ["processes x threads", "req/s", "p50", "p99", "gateway cores (all)", "machine"],
            [
                (
                    f"{procs} x {pool}",
                    n(run.wrk.per_second),
                    n(run.wrk.p50_ms, 1, "ms"),
                    n(run.wrk.p99_ms, 1, "ms"),
                    f"{run.cpu.cores('gateway'):.2f}",
                    f"{run.cpu.machine_busy / run.cpu.wall_seconds:.2f} / {cpu_count()}",
                )
                for procs, pool, run in state.whatif
            ],
        )
        lines += cpu_table([(r.label, r.cpu, r.wrk.per_second) for _, _, r in state.whatif], "req")
    if state.inproc_ingest or state.inproc_processor:
        lines += ["### In-process cost breakdowns", ""]
        lines += [
            "`python -m bench.inproc ingest|processor` in a fresh interpreter: each stage of "
            "the handlers timed alone on one thread (best of three rounds), against the bench "
            "database and vhost.",
            "",
        ]
        if state.inproc_ingest:
            lines += table(
                ["ingest stage", "µs per request"],
                [(k, n(v, 1)) for k, v in state.inproc_ingest.items()],
            )
        if state.inproc_processor:
            lines += table(
                ["processor stage (events per message x messages per batch)", "µs per event"],
                [
                    (k.removesuffix("_ms"), n(v, 2) + (" ms (once)" if k.endswith("_ms") else ""))
                    for k, v in state.inproc_processor.items()
                ],
            )
    if state.gateway_profile or state.processor_profile:
        lines += ["### Profiles", ""]
        if state.gateway_profile:
            lines += profile_block(
                state.gateway_profile,
                f"Gateway process under single-event load "
                f"({n(state.gateway_profile_rate)} req/s while profiled)",
                threaded=True,
            )
        if state.processor_profile:
            lines += profile_block(state.processor_profile, "Processor process draining")
    return lines


def findings(state: State) -> list[str]:
    from bench.findings import findings as build

    return build(state)


def method(state: State, plan: Plan) -> list[str]:
    return [
        "## How to run",
        "",
        "```sh",
        "make bench                                   # full run → docs/benchmarks.md",
        ".venv/bin/python -m bench.run --quick        # smoke run → /tmp/logsight-bench/",
        ".venv/bin/python -m bench.run --only ingest,processor",
        ".venv/bin/python -m bench.report             # re-render the last run's page",
        "make bench-soak                              # 30 min of steady load, memory over time",
        "make bench-soak MINUTES=5                    # shorter",
        ".venv/bin/python -m bench.alerts             # alert evaluation of 1,000 rules only",
        "```",
        "",
        "Sections: `imports`, `raw`, `processor`, `breakdown`, `ingest`, `e2e`, `memory`, "
        "`knobs`, `whatif`. Other options: `--output FILE`, `--no-profile`, `--wait-idle SECONDS`. "
        "wrk is installed with apt-get when missing; py-spy goes into a throwaway venv under "
        "/tmp. Each run creates `logsight_bench_*` / `logsight-bench-*` and drops them at the "
        "end. The soak writes only its own section of this page (and `make bench` keeps it); "
        "see `python -m bench.soak --help` for its rate, bursts and sampling interval. "
        "`make bench` runs `bench.alerts` first; it too writes only its own section.",
        "",
    ]


def main() -> None:
    """Re-render a page from the last run's measurements (development aid).

    ``python -m bench.report [STATE_PICKLE] [OUTPUT]``; defaults: the last run's state under
    /tmp/logsight-bench and /tmp/logsight-bench/rerendered.md.
    """
    import pickle
    import sys
    import tempfile
    from pathlib import Path

    work = Path(tempfile.gettempdir()) / "logsight-bench"
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else work / "last-state.pickle"
    target = Path(sys.argv[2]) if len(sys.argv) > 2 else work / "rerendered.md"
    with source.open("rb") as f:
        state, plan = pickle.load(f)  # noqa: S301 - our own file from a previous run
    target.write_text(render(state, plan))
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
