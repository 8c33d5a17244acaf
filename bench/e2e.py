"""202 → queryable: how long after ingest answers 202 an event can be read from ``events``.

Single-event requests are sent open-loop at a steady rate, each with its own client-made
``event_id`` and a run marker as its name. A watcher thread polls PostgreSQL every
``poll_seconds`` for the marker's rows and records when each event_id is first seen; the
latency of an event is first-seen time minus the time its 202 arrived. Polling adds up to one
poll interval (half of it on average) to every latency.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from bench.common import log, percentile
from bench.events import request_body, sample_event
from bench.http import OpenLoopResult, open_loop


@dataclass
class E2EResult:
    rate: float
    seconds: float
    sent: int
    accepted: int
    seen: int
    poll_seconds: float
    latencies_ms: list[float] = field(default_factory=list)
    request: OpenLoopResult | None = None

    @property
    def p50_ms(self) -> float:
        return percentile(self.latencies_ms, 50)

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_ms, 99)

    @property
    def max_ms(self) -> float:
        return max(self.latencies_ms) if self.latencies_ms else float("nan")


class _Watcher(threading.Thread):
    def __init__(self, database_url: str, project_id: str, marker: str, poll: float) -> None:
        super().__init__(name="e2e-watcher", daemon=True)
        self.database_url, self.project_id, self.marker, self.poll = (
            database_url,
            project_id,
            marker,
            poll,
        )
        self.first_seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.since = datetime.now(UTC) - timedelta(minutes=1)

    def run(self) -> None:
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while not self.stop.is_set():
                began = time.time()
                rows = conn.execute(
                    "SELECT event_id::text FROM events"
                    " WHERE project_id = %s AND name = %s AND timestamp >= %s",
                    (self.project_id, self.marker, self.since),
                ).fetchall()
                seen_at = time.time()
                for (event_id,) in rows:
                    self.first_seen.setdefault(event_id, seen_at)
                self.stop.wait(max(self.poll - (time.time() - began), 0))


def measure(
    *,
    url: str,
    key: str,
    database_url: str,
    project_id: str,
    rate: float,
    seconds: float,
    poll_seconds: float = 0.05,
    settle_seconds: float = 20.0,
) -> E2EResult:
    marker = f"e2e-{uuid.uuid4().hex[:8]}"
    rng = random.Random(21)
    total = int(rate * seconds)
    event_ids = [str(uuid.uuid4()) for _ in range(total)]
    bodies = []
    for event_id in event_ids:
        event = sample_event(rng, marker=marker)
        event["event_id"] = event_id
        bodies.append(request_body([event]))
    watcher = _Watcher(database_url, project_id, marker, poll_seconds)
    watcher.start()
    try:
        request = open_loop(url, key, bodies, rate=rate, seconds=seconds)
        accepted = {event_ids[index]: done for _, done, index in request.accepted_at}
        deadline = time.time() + settle_seconds
        while time.time() < deadline and not accepted.keys() <= watcher.first_seen.keys():
            time.sleep(0.1)
    finally:
        watcher.stop.set()
        watcher.join(10)
    latencies = [
        (watcher.first_seen[event_id] - done) * 1000
        for event_id, done in accepted.items()
        if event_id in watcher.first_seen
    ]
    result = E2EResult(
        rate=rate,
        seconds=seconds,
        sent=total,
        accepted=len(accepted),
        seen=len(latencies),
        poll_seconds=poll_seconds,
        latencies_ms=latencies,
        request=request,
    )
    log(
        f"202->queryable at {rate:,.0f} events/s: p50 {result.p50_ms:.0f} ms,"
        f" p99 {result.p99_ms:.0f} ms, max {result.max_ms:.0f} ms"
        f" ({result.seen}/{result.accepted} seen)"
    )
    return result
