"""The raw limits every pipeline number is compared with, measured in the same run.

* a bare pika publish-with-confirm loop: persistent messages through a direct exchange into a
  durable quorum queue declared with our arguments, one message at a time per connection, and
  with several publishers in parallel (threads, and processes);
* a bare psycopg COPY loop into a table shaped like ``events`` (same columns, primary key and
  indexes), rows prepared beforehand, one transaction per batch.
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import pika
import psycopg

from bench.common import log
from logsight.config import Settings
from logsight.event import COLUMNS
from logsight.queue.topology import shard_queue_arguments

RAW_EXCHANGE = "bench.raw"
RAW_QUEUE = "bench.raw.q"


def _parameters(amqp_url: str) -> pika.URLParameters:
    params = pika.URLParameters(amqp_url)
    params.heartbeat = 0
    return params


def declare_raw_queue(amqp_url: str) -> None:
    arguments = shard_queue_arguments(Settings(amqp_url=amqp_url))
    arguments.pop("x-dead-letter-exchange")
    arguments.pop("x-dead-letter-strategy")
    with pika.BlockingConnection(_parameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.exchange_declare(RAW_EXCHANGE, "direct", durable=True)
        channel.queue_declare(RAW_QUEUE, durable=True, arguments=arguments)
        channel.queue_bind(RAW_QUEUE, RAW_EXCHANGE, "raw")


def purge_raw_queue(amqp_url: str) -> None:
    with pika.BlockingConnection(_parameters(amqp_url)) as connection:
        connection.channel().queue_purge(RAW_QUEUE)


def delete_raw_queue(amqp_url: str) -> None:
    with pika.BlockingConnection(_parameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.queue_delete(RAW_QUEUE)
        channel.exchange_delete(RAW_EXCHANGE)


def _publish_loop(amqp_url: str, body: bytes, start_at: float, seconds: float) -> tuple[int, float]:
    """Publish one persistent message at a time, each confirmed before the next; (count, secs)."""
    properties = pika.BasicProperties(
        content_type="application/json", delivery_mode=pika.DeliveryMode.Persistent
    )
    with pika.BlockingConnection(_parameters(amqp_url)) as connection:
        channel = connection.channel()
        channel.confirm_delivery()
        while time.time() < start_at:
            time.sleep(0.001)
        began = time.perf_counter()
        stop = began + seconds
        count = 0
        while time.perf_counter() < stop:
            channel.basic_publish(RAW_EXCHANGE, "raw", body, properties, mandatory=True)
            count += 1
        return count, time.perf_counter() - began


def _process_worker(
    amqp_url: str, body: bytes, start_at: float, seconds: float, *, out: Any, index: int
) -> None:
    out[index] = _publish_loop(amqp_url, body, start_at, seconds)[0]


@dataclass(frozen=True)
class PublishRate:
    publishers: int
    mode: str  # "thread" or "process"
    body_bytes: int
    per_second: float


def publish_rate(
    amqp_url: str, body: bytes, *, publishers: int, mode: str, seconds: float
) -> PublishRate:
    """Messages confirmed per second by ``publishers`` parallel publish-with-confirm loops."""
    start_at = time.time() + 0.5 + 0.2 * publishers
    counts: list[int] = [0] * publishers
    if mode == "thread":

        def run(i: int) -> None:
            counts[i] = _publish_loop(amqp_url, body, start_at, seconds)[0]

        threads = [threading.Thread(target=run, args=(i,)) for i in range(publishers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    else:
        ctx = mp.get_context("fork")
        shared = ctx.Array("q", publishers)
        procs = [
            ctx.Process(
                target=_process_worker,
                args=(amqp_url, body, start_at, seconds),
                kwargs={"out": shared, "index": i},
            )
            for i in range(publishers)
        ]
        for p in procs:
            p.start()
        for p in procs:
            p.join(seconds + 30)
        counts = [int(shared[i]) for i in range(publishers)]
    rate = sum(counts) / seconds
    purge_raw_queue(amqp_url)
    log(f"raw publish {mode}s={publishers} body={len(body)}B: {rate:,.0f} msg/s")
    return PublishRate(publishers, mode, len(body), rate)


# -- COPY ---------------------------------------------------------------------------------------

RAW_TABLE = "bench_raw_events"


def copy_rate(
    database_url: str, template_rows: list[tuple[Any, ...]], *, total: int, batch: int
) -> float:
    """Rows/s of a bare COPY loop into an events-shaped table, one transaction per batch.

    ``template_rows`` are the processor's own COPY tuples (EventRow.copy_values()); each row
    gets a fresh event_id beforehand so every row is a real insert.
    """
    event_id_at = COLUMNS.index("event_id")
    rows: list[tuple[Any, ...]] = []
    for i in range(total):
        values = list(template_rows[i % len(template_rows)])
        values[event_id_at] = uuid.uuid4()
        rows.append(tuple(values))
    statement = f"COPY {RAW_TABLE} ({', '.join(COLUMNS)}) FROM STDIN"
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        # Same columns, defaults, primary key and indexes as events (partitioning aside).
        conn.execute(f"CREATE TABLE {RAW_TABLE} (LIKE events INCLUDING ALL)")
        began = time.perf_counter()
        with conn.cursor() as cur:
            for start in range(0, total, batch):
                with conn.transaction(), cur.copy(statement) as copy:
                    for row in rows[start : start + batch]:
                        copy.write_row(row)
        elapsed = time.perf_counter() - began
        conn.execute(f"DROP TABLE {RAW_TABLE}")
    rate = total / elapsed
    log(f"raw COPY batch={batch}: {rate:,.0f} rows/s")
    return rate
