"""Free-text index for log bodies: trigram GIN (ILIKE) against full-text GIN (tsvector @@),
on synthetic log lines in a scratch database. Prints p50/p95 per query and index sizes.

    .venv/bin/python bench/log_search_index.py [lines]   (default 300000)
"""

from __future__ import annotations

import random
import statistics
import sys
import time
import uuid

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
WORDS = [f"w{n}" for n in range(5000)] + ["request", "handled", "user", "order", "cache", "slow"]
RUNS = 30


def main() -> None:
    lines = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    name = f"bench_logs_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{name}", autocommit=True) as c:
            run(c, lines)
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {name} WITH (FORCE)")


def run(conn: psycopg.Connection, lines: int) -> None:
    conn.execute("CREATE EXTENSION pg_trgm")
    conn.execute("CREATE TABLE logs (project_id uuid, timestamp timestamptz, body text)")
    project = uuid.uuid4()
    rng = random.Random(7)
    with conn.cursor() as cur, cur.copy("COPY logs FROM STDIN") as copy:
        for n in range(lines):
            words = rng.choices(WORDS, k=12)
            if n % 100_000 == 0:
                words.append("zebracorn")  # rare: a handful of lines
            copy.write_row((project, "2026-11-01T00:00:00Z", " ".join(words) + f" id={n}"))
    conn.execute("ANALYZE logs")
    queries = {
        "trigram rare": ("body ILIKE '%%zebracorn%%'", "trgm"),
        "trigram common": ("body ILIKE '%%request%%'", "trgm"),
        "fts rare": (
            "to_tsvector('simple', body) @@ plainto_tsquery('simple', 'zebracorn')",
            "fts",
        ),
        "fts common": (
            "to_tsvector('simple', body) @@ plainto_tsquery('simple', 'request')",
            "fts",
        ),
    }
    for index, ddl in {
        "trgm": "CREATE INDEX logs_trgm ON logs USING gin (body gin_trgm_ops)",
        "fts": "CREATE INDEX logs_fts ON logs USING gin (to_tsvector('simple', body))",
    }.items():
        started = time.perf_counter()
        conn.execute(ddl)
        built = time.perf_counter() - started
        size = conn.execute(f"SELECT pg_size_pretty(pg_relation_size('logs_{index}'))").fetchone()
        print(f"{index}: built in {built:.1f}s, {size[0] if size else '?'}")
        for label, (where, uses) in queries.items():
            if uses != index:
                continue
            timings = []
            for _ in range(RUNS):
                started = time.perf_counter()
                conn.execute(
                    f"SELECT body FROM logs WHERE project_id = %s AND {where}"
                    " ORDER BY timestamp DESC LIMIT 50",
                    (project,),
                ).fetchall()
                timings.append((time.perf_counter() - started) * 1000)
            p95 = statistics.quantiles(timings, n=20)[-1]
            print(f"  {label}: p50 {statistics.median(timings):.1f} ms, p95 {p95:.1f} ms")
        conn.execute(f"DROP INDEX logs_{index}")
    print(f"{lines} lines")


if __name__ == "__main__":
    main()
