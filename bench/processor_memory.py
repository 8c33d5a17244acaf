"""The processor's memory across bursts, in minutes instead of a half-hour soak.

    .venv/bin/python -m bench.processor_memory [--rounds 8] [--envelopes 2000] [--traced]

This process runs the processor as ``logsight local processor`` does (``processor_pollers``:
one ``QueuePoller`` per shard queue and one on the dead-letter queue, the real handler, the
default batch size and window), against a database and vhost of its own. Each round, a child
process sends a burst of real sentry-sdk error envelopes (fresh event ids, gzipped) through the
ingest handler while the pollers are stopped, so the queue holds a backlog (as after an SDK
flushed its queue, or an outage) that the pollers, started again, drain in the largest batches
(``LOGSIGHT_BATCH_SIZE`` messages, or 6 MB); ``--live`` keeps them running during the burst
instead (batches as large as the batching window gathers). Once every message of
the round is processed, the process's memory is read from /proc/self/smaps_rollup: ``Pss_Anon``
(heap, malloc arenas, stacks: what the soak judges) and RSS. The producer runs in its own
process so that only the processor's memory is measured.

With ``--traced`` the Python heap is traced too (tracemalloc, slower): memory that grows while
the traced heap does not is native (allocator arenas, C extensions).
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import psycopg

from bench.common import PYTHON, REPO
from bench.memory import parse_smaps_rollup
from bench.resources import BenchDatabase, BenchVhost


def _memory_mb() -> tuple[float, float]:
    """(private anonymous memory, RSS) of this process, MB."""
    values = parse_smaps_rollup(Path("/proc/self/smaps_rollup").read_text())
    return values.get("Pss_Anon", 0) / 1024, values.get("Rss", 0) / 1024


def _keep() -> None:
    """--no-trim: the freed C heap stays with the process."""


def produce(count: int, seed: int) -> None:
    """Child process: ``count`` envelopes through the ingest handler (env says where)."""
    import functions.ingest.handler as ingest
    from bench.envelopes import envelope_request, record_envelopes
    from logsight.local.context import LocalContext
    from logsight.local.functions import INGEST
    from logsight.local.payloads import http_api_event

    dsn = os.environ["BENCH_DSN"]
    rng = random.Random(seed)
    envelopes = record_envelopes(dsn, 30, rng)
    refused = 0
    for _ in range(count):
        request = envelope_request(dsn, *rng.choice(envelopes))
        event = http_api_event(
            method="POST",
            path=request.path,
            query_string="",
            headers=[("host", "127.0.0.1:8000"), *request.headers],
            body=request.body,
            source_ip="127.0.0.1",
        )
        result = ingest.handler(event, LocalContext(INGEST.name, INGEST.timeout_seconds))
        refused += result["statusCode"] != 200
    if refused:
        raise SystemExit(f"ingest refused {refused} of {count} envelopes")


def measure(rounds: int, envelopes: int, traced: bool, live: bool, trim: bool) -> None:
    db, vhost = BenchDatabase("logsight_procmem").create(), BenchVhost("logsight-procmem").create()
    env = {
        "LOGSIGHT_DATABASE_URL": db.url,
        "LOGSIGHT_AMQP_URL": vhost.url,
        # The burst is the point: no quota may refuse part of it.
        "LOGSIGHT_KEY_EVENTS_PER_SECOND": "0",
        "LOGSIGHT_PROJECT_EVENTS_PER_MINUTE": "0",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    try:
        _run(db, rounds, envelopes, traced, live, trim)
    finally:
        vhost.delete()
        db.drop()


def _run(
    db: BenchDatabase, rounds: int, envelopes: int, traced: bool, live: bool, trim: bool
) -> None:
    from logsight.config import Settings
    from logsight.ingest.sentry.dsn import dsn_for
    from logsight.local.components import processor_pollers
    from logsight.local.poller import QueuePoller
    from logsight.queue.topology import ensure_topology
    from logsight.storage.migrate import migrate
    from logsight.storage.projects import create_project

    migrate(db.url, timescale="off")
    with psycopg.connect(db.url, autocommit=True) as conn:
        project = create_project(conn, "procmem")
        row = conn.execute("SELECT number FROM projects WHERE id = %s", (project.id,)).fetchone()
    assert row is not None
    settings = Settings()
    ensure_topology(settings)
    dsn = dsn_for(project.public_key, "http://127.0.0.1:9", int(row[0]))

    def pollers_for() -> list[QueuePoller]:
        made = processor_pollers(settings)
        if not trim:
            for poller in made:
                poller.release_memory = _keep
        return made

    pollers = pollers_for()
    if live:
        for poller in pollers:
            poller.start()
    processed = batches = 0
    anon, rss = _memory_mb()
    print(f"processor ready: anon {anon:.1f} MB, RSS {rss:.1f} MB", flush=True)
    print("| round | envelopes processed | batches | anon MB | RSS MB | traced KB |")
    print("|---|---|---|---|---|---|", flush=True)
    if traced:
        tracemalloc.start()
    try:
        for i in range(rounds):
            target = (i + 1) * envelopes
            subprocess.run(
                [PYTHON, "-m", "bench.processor_memory", "--produce", str(envelopes), str(i)],
                cwd=REPO,
                env={**os.environ, "BENCH_DSN": dsn},
                check=True,
            )
            if not live:
                # Fresh pollers (the handler, and so the processor, stays) find the backlog.
                pollers = pollers_for()
                for poller in pollers:
                    poller.start()
            deadline = time.monotonic() + 300
            while processed + sum(p.stats.messages for p in pollers) < target:
                if time.monotonic() > deadline:
                    raise SystemExit(f"round {i + 1}: the processor did not drain the queue")
                time.sleep(0.2)
            time.sleep(1.0)
            anon, rss = _memory_mb()
            heap = tracemalloc.get_traced_memory()[0] / 1024 if traced else float("nan")
            failures = sum(p.stats.failures for p in pollers)
            if failures:
                raise SystemExit(f"the processor failed {failures} times: {pollers[0].stats}")
            if not live:
                for poller in pollers:
                    poller.stop()
                processed += sum(p.stats.messages for p in pollers)
                batches += sum(p.stats.batches for p in pollers)
            else:
                batches = sum(p.stats.batches for p in pollers)
            print(
                f"| {i + 1} | {target:,} | {batches} | {anon:.1f} | {rss:.1f} | {heap:,.0f} |",
                flush=True,
            )
    finally:
        for poller in pollers:
            poller.stop()
    with psycopg.connect(db.url) as conn:
        stored = conn.execute("SELECT count(*) FROM events").fetchone()
    print(f"stored events: {stored[0] if stored else 0:,}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.processor_memory")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--envelopes", type=int, default=2000, help="per round")
    parser.add_argument("--traced", action="store_true", help="trace the Python heap too")
    parser.add_argument("--live", action="store_true", help="keep the pollers running")
    parser.add_argument("--no-trim", action="store_true", help="no malloc_trim after batches")
    parser.add_argument("--produce", nargs=2, metavar=("COUNT", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        produce(int(args.produce[0]), int(args.produce[1]))
        return
    measure(args.rounds, args.envelopes, args.traced, args.live, not args.no_trim)


if __name__ == "__main__":
    sys.exit(main())
