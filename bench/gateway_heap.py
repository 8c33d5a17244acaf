"""What the gateway's heap holds as load continues: tracemalloc snapshots diffed in-process.

    .venv/bin/python -m bench.gateway_heap [ROUNDS] [REQUESTS_PER_ROUND]

The unchanged ``Gateway`` (default routes, LOGSIGHT_GATEWAY_WORKERS threads) is called as uvicorn
would call it, with real sentry-sdk envelopes, 64 at a time, in a database and vhost of its own
(queues purged between rounds: no processor runs). After a warm-up round (every worker thread
started) tracing begins; each round prints the process's RSS, the traced Python heap and the
database connections open, and the end prints the allocation sites that grew the most. Python
objects that pile up show here; RSS that grows while the traced heap does not is native memory
(allocator arenas, C extensions).
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import sys
import threading
import tracemalloc
from typing import Any

import psycopg

from bench.common import PG_ADMIN_URL
from bench.envelopes import envelope_request, record_envelopes
from bench.http import Request
from bench.resources import BenchDatabase, BenchVhost


def _rss_mb() -> float:
    for line in open("/proc/self/status").read().splitlines():  # noqa: SIM115 - tiny file
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _connections(database: str) -> int:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (database,)
        ).fetchone()
    return int(row[0]) if row else 0


async def _call(app: Any, request: Request) -> int:
    scope = {
        "type": "http",
        "method": "POST",
        "path": request.path,
        "query_string": b"",
        "client": ("127.0.0.1", 40000),
        "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers],
    }
    messages = [{"type": "http.request", "body": request.body, "more_body": False}]
    status = 0

    async def receive() -> dict[str, Any]:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])

    await app(scope, receive, send)
    return status


async def _round(app: Any, requests: list[Request]) -> dict[int, int]:
    slots = asyncio.Semaphore(64)
    statuses: dict[int, int] = {}

    async def one(request: Request) -> None:
        async with slots:
            status = await _call(app, request)
        statuses[status] = statuses.get(status, 0) + 1

    await asyncio.gather(*(one(r) for r in requests))
    return statuses


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    per_round = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    db, vhost = BenchDatabase("logsight_heap").create(), BenchVhost("logsight-heap").create()
    try:
        os.environ.update(
            {
                "LOGSIGHT_DATABASE_URL": db.url,
                "LOGSIGHT_AMQP_URL": vhost.url,
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        _measure(db, vhost.url, rounds, per_round)
    finally:
        vhost.delete()
        db.drop()


def _measure(db: BenchDatabase, amqp_url: str, rounds: int, per_round: int) -> None:
    from bench.run import _purge
    from logsight.config import Settings
    from logsight.ingest.sentry.dsn import dsn_for
    from logsight.local.gateway import Gateway, default_routes
    from logsight.queue.topology import ensure_topology
    from logsight.storage.migrate import migrate
    from logsight.storage.projects import create_project

    migrate(db.url, timescale="off")
    with psycopg.connect(db.url, autocommit=True) as conn:
        project = create_project(conn, "heap")
        row = conn.execute("SELECT number FROM projects WHERE id = %s", (project.id,)).fetchone()
    assert row is not None
    settings = Settings()
    ensure_topology(settings)
    queues = [settings.shard_queue(s) for s in range(settings.shards)]
    dsn = dsn_for(project.public_key, "http://127.0.0.1:9", int(row[0]))
    rng = random.Random(5)
    envelopes = record_envelopes(dsn, 30, rng)
    app = Gateway(default_routes(), settings.gateway_workers)
    for route in app.routes:
        _ = route.handler
    loop = asyncio.new_event_loop()

    def run_round(label: str) -> None:
        requests = [envelope_request(dsn, *rng.choice(envelopes)) for _ in range(per_round)]
        statuses = loop.run_until_complete(_round(app, requests))
        _purge(amqp_url, queues)
        gc.collect()
        traced = tracemalloc.get_traced_memory()[0] / 1024 if tracemalloc.is_tracing() else 0
        print(
            f"{label}: statuses {statuses}, RSS {_rss_mb():.1f} MB, traced {traced:,.0f} KB,"
            f" threads {threading.active_count()}, database connections {_connections(db.name)}",
            flush=True,
        )

    run_round("warm-up")
    tracemalloc.start(12)
    before = tracemalloc.take_snapshot()
    for i in range(rounds):
        run_round(f"round {i + 1}")
    after = tracemalloc.take_snapshot()
    print("\nLargest growth by allocation site:")
    for stat in after.compare_to(before, "lineno")[:12]:
        print(f"  {stat}")


if __name__ == "__main__":
    main()
