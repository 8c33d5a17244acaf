"""Processor throughput: pre-fill shard queues, then time the real processor process draining
them into PostgreSQL.

The process is the one ``logsight local`` runs (``python -m logsight.cli local processor``: one
QueuePoller thread per shard queue invoking functions/processor/handler.py), started on its own
exchange/queue prefix in the bench vhost so the runtime's processor never sees these messages.
Messages are built like ingest builds them (normalize_event → EventMessage.encode()).

The clock starts when the broker's ready count first drops (the process has its first batch;
interpreter start-up and imports are not counted) and stops when the last row is in ``events``;
the steady rate is taken between 10 % and 90 % of the rows written.
"""

from __future__ import annotations

import contextlib
import random
import signal
import subprocess
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pika
import psycopg

from bench.common import PYTHON, REPO, log
from bench.cpu import CpuMeter, CpuReport, runtime_classifier
from bench.events import LIMITS, sample_event
from bench.profiling import Profile, Profiler
from bench.runtime import bench_env, tree_memory
from logsight.config import Settings
from logsight.ingest.normalize import normalize_event
from logsight.queue.message import EventMessage
from logsight.queue.topology import ensure_topology, routing_key

PREFIX = "bench.proc"


@dataclass
class DrainResult:
    label: str
    events_per_message: int
    messages: int
    events: int
    shards: int
    batch_size: int
    seconds: float
    steady_seconds: float  # from 10 % to 90 % of the rows written
    cpu: CpuReport | None
    peak_pss_mb: float
    profile: Profile | None

    @property
    def events_per_second(self) -> float:
        """First batch to last row, warm-up (first user-agent parse, partitions) included."""
        return self.events / self.seconds if self.seconds else 0.0

    @property
    def steady_events_per_second(self) -> float:
        """Rows written per second between 10 % and 90 % of the total (falls back to overall
        when the drain was too short to tell)."""
        if not self.steady_seconds:
            return self.events_per_second
        return 0.8 * self.events / self.steady_seconds


def _steady_seconds(progress: list[tuple[float, int]], total: int) -> float:
    """Seconds between 10 % and 90 % of the rows being written (warm-up and tail excluded)."""
    low = next((t for t, rows in progress if rows >= 0.1 * total), None)
    high = next((t for t, rows in progress if rows >= 0.9 * total), None)
    return high - low if low is not None and high is not None and high > low else 0.0


def _slug(text: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in text).strip("-")


def _settings(amqp_url: str, shards: int) -> Settings:
    return Settings(amqp_url=amqp_url, exchange=PREFIX, queue_prefix=PREFIX, shards=shards)


def _normalized_pool(size: int, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    received = datetime.now(UTC)
    return [
        normalize_event(sample_event(rng), received_at=received, limits=LIMITS) for _ in range(size)
    ]


def build_messages(
    project_id: UUID, pool: list[dict[str, Any]], *, messages: int, per_message: int
) -> list[bytes]:
    """Ingest-built messages; every event gets a fresh event_id so each row is a real insert."""
    received = datetime.now(UTC)
    bodies = []
    position = 0
    for _ in range(messages):
        events = []
        for _ in range(per_message):
            events.append({**pool[position % len(pool)], "event_id": str(uuid.uuid4())})
            position += 1
        bodies.append(EventMessage(project_id, received, str(uuid.uuid4()), events).encode())
    return bodies


def _queue_depths(channel: Any, queues: list[str]) -> int:
    return sum(channel.queue_declare(q, passive=True).method.message_count for q in queues)


class _RowCounter:
    """Rows of the project in ``events``, cheaply: the processor maintains ``event_rollups_1m``
    in the same transaction from exactly the inserted rows (both layouts), so summing that small
    table is exact."""

    def __init__(self, conn: psycopg.Connection, project_id: UUID) -> None:
        self.conn, self.project_id = conn, project_id

    def __call__(self) -> int:
        row = self.conn.execute(
            "SELECT coalesce(sum(events), 0) FROM event_rollups_1m WHERE project_id = %s",
            (self.project_id,),
        ).fetchone()
        return int(row[0]) if row else 0


def drain(
    *,
    label: str,
    amqp_url: str,
    database_url: str,
    project_id: UUID,
    per_message: int,
    events: int,
    shards: int = 1,
    batch_size: int = 500,
    batch_window: float = 0.5,
    profiler: Profiler | None = None,
    timeout: float = 180,
) -> DrainResult:
    settings = _settings(amqp_url, shards)
    queues = ensure_topology(settings)
    messages = max(events // per_message, 1)
    pool = _normalized_pool(min(2000, messages * per_message))
    bodies = build_messages(project_id, pool, messages=messages, per_message=per_message)
    total_events = messages * per_message

    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0
    properties = pika.BasicProperties(
        content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent
    )
    with (
        pika.BlockingConnection(params) as connection,
        psycopg.connect(database_url, autocommit=True) as conn,
    ):
        channel = connection.channel()
        for q in queues:
            channel.queue_purge(q)
        for i, body in enumerate(bodies):
            channel.basic_publish(PREFIX, routing_key(i % shards), body, properties)
        deadline = time.monotonic() + 120
        while _queue_depths(channel, queues) < messages:
            if time.monotonic() > deadline:
                raise RuntimeError("pre-fill did not reach the queues")
            time.sleep(0.05)
        count = _RowCounter(conn, project_id)
        baseline = count()
        log(
            f"processor {label}: {messages} messages x {per_message} events pre-filled"
            f" in {shards} queue(s); starting the processor"
        )

        env = bench_env(
            {
                "LOGSIGHT_DATABASE_URL": database_url,
                "LOGSIGHT_AMQP_URL": amqp_url,
                "LOGSIGHT_EXCHANGE": PREFIX,
                "LOGSIGHT_QUEUE_PREFIX": PREFIX,
                "LOGSIGHT_SHARDS": str(shards),
                "LOGSIGHT_BATCH_SIZE": str(batch_size),
                "LOGSIGHT_BATCH_WINDOW_SECONDS": str(batch_window),
                "POWERTOOLS_METRICS_DISABLED": "true",
                "POWERTOOLS_LOG_LEVEL": "WARNING",
            }
        )
        process = subprocess.Popen(
            [PYTHON, "-m", "logsight.cli", "local", "processor"], env=env, cwd=REPO
        )
        meter = CpuMeter(
            runtime_classifier({"processor": process.pid}, database_url.rsplit("/", 1)[1])
        )
        spy = None
        try:
            deadline = time.monotonic() + 60
            while _queue_depths(channel, queues) >= messages:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the processor did not start consuming")
                time.sleep(0.005)
            began = time.monotonic()
            meter.start()
            peak = 0.0
            next_memory = began
            progress: list[tuple[float, int]] = []  # (time, rows written)
            deadline = began + timeout
            while True:
                now = time.monotonic()
                if now >= next_memory:
                    peak = max(peak, tree_memory(process.pid).pss_mb)
                    next_memory = now + 0.5
                written = count() - baseline
                progress.append((time.monotonic(), written))
                if written >= total_events:
                    break
                if profiler is not None and spy is None and written >= 0.1 * total_events:
                    # Warm by now (first batches done): profile the steady state.
                    spy = profiler.start(process.pid, f"processor-{_slug(label)}")
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"processor {label}: drain did not finish")
                time.sleep(0.05)
            elapsed = time.monotonic() - began
            cpu = meter.stop()
            profile = spy.stop() if spy is not None else None
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            if spy is not None:
                with contextlib.suppress(Exception):
                    spy.stop()
    result = DrainResult(
        label=label,
        events_per_message=per_message,
        messages=messages,
        events=total_events,
        shards=shards,
        batch_size=batch_size,
        seconds=elapsed,
        steady_seconds=_steady_seconds(progress, total_events),
        cpu=cpu,
        peak_pss_mb=peak,
        profile=profile,
    )
    log(
        f"processor {label}: {total_events:,} events in {elapsed:.2f} s ="
        f" {result.events_per_second:,.0f} events/s overall,"
        f" {result.steady_events_per_second:,.0f} events/s steady; CPU cores: {cpu.summary()}"
    )
    return result
