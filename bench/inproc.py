"""In-process cost breakdowns of the two hot paths, run in a fresh interpreter.

``python -m bench.inproc ingest|processor`` (environment: LOGSIGHT_DATABASE_URL,
LOGSIGHT_AMQP_URL, BENCH_KEY / BENCH_PROJECT) prints one JSON object of microseconds per
request (ingest) or per event (processor) for each stage, timed with perf_counter over many
iterations on one thread. The stages call the project's own functions in the order the handlers
do; nothing under src/ or functions/ is modified.
"""

from __future__ import annotations

import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any
from uuid import UUID

from bench.events import LIMITS, USER_AGENTS, message_body, request_body, sample_event


def _time_per_call(fn: Callable[[], object], iterations: int) -> float:
    """Microseconds per call: the best of five rounds after one warm-up call. The minimum,
    because other work on a shared machine can only make a round slower."""
    fn()
    per_round = max(iterations // 2, 1)
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(per_round):
            fn()
        best = min(best, (time.perf_counter() - began) / per_round)
    return best * 1e6


def ingest(iterations: int) -> dict[str, float]:
    from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

    import functions.ingest.handler as handler_module
    from logsight.apigw import HttpRequest
    from logsight.ingest.normalize import normalize_batch
    from logsight.local.context import LocalContext
    from logsight.local.functions import INGEST
    from logsight.local.payloads import http_api_event
    from logsight.queue.message import EventMessage
    from logsight.queue.publisher import Publisher

    key = os.environ["BENCH_KEY"]
    rng = random.Random(5)
    single = request_body([sample_event(rng)])
    hundred = request_body([sample_event(rng) for _ in range(100)])

    def event_for(body: bytes) -> dict[str, Any]:
        return http_api_event(
            method="POST",
            path="/v1/events",
            query_string="",
            headers=[
                ("host", "127.0.0.1:8000"),
                ("content-type", "application/json"),
                ("x-logsight-key", key),
                ("content-length", str(len(body))),
            ],
            body=body,
            source_ip="127.0.0.1",
        )

    def call(event: dict[str, Any]) -> None:
        context: Any = LocalContext(INGEST.name, INGEST.timeout_seconds)
        result = handler_module.handler(event, context)
        if result["statusCode"] != 202:
            raise RuntimeError(f"ingest answered {result['statusCode']}: {result['body']}")

    out: dict[str, float] = {}
    one_event = event_for(single)
    call(one_event)  # builds the service, connects, caches the key
    out["real_handler_1"] = _time_per_call(lambda: call(one_event), iterations)
    out["real_handler_100"] = _time_per_call(lambda: call(event_for(hundred)), iterations // 10)

    out["gateway_event_build_1"] = _time_per_call(lambda: event_for(single), iterations)
    out["context_build"] = _time_per_call(
        lambda: LocalContext(INGEST.name, INGEST.timeout_seconds), iterations
    )
    out["request_from_event_1"] = _time_per_call(
        lambda: HttpRequest.from_event(one_event), iterations
    )
    import orjson

    raw_one = [orjson.loads(single)]
    raw_hundred = orjson.loads(hundred)["events"]
    received = datetime.now(UTC)
    out["normalize_1"] = _time_per_call(
        lambda: normalize_batch(raw_one, received_at=received, limits=LIMITS), iterations
    )
    out["normalize_100"] = _time_per_call(
        lambda: normalize_batch(raw_hundred, received_at=received, limits=LIMITS),
        iterations // 10,
    )
    out.update(_normalize_split(raw_hundred, iterations // 10))
    accepted, _ = normalize_batch(raw_one, received_at=received, limits=LIMITS)
    message = EventMessage(uuid.uuid4(), received, "r", accepted)
    out["message_encode_1"] = _time_per_call(message.encode, iterations)

    def metrics() -> None:
        m = EphemeralMetrics(namespace="LogSight", service="ingest")
        m.add_metric("EventsAccepted", MetricUnit.Count, 1)
        m.add_metric("EventsRejected", MetricUnit.Count, 0)
        m.flush_metrics(raise_on_empty_metrics=False)

    out["metrics_1"] = _time_per_call(metrics, iterations)

    from logsight.config import get_settings

    publisher = Publisher(get_settings())
    body = message.encode()

    def publish() -> None:
        publisher.publish(
            body, routing_key="shard.0", message_id="m", headers={"x-logsight-schema": 1}
        )

    out["publish_confirm_1"] = _time_per_call(publish, iterations)
    publisher.close()

    original = Publisher.publish
    Publisher.publish = lambda self, *a, **k: None  # type: ignore[method-assign]
    try:
        out["handler_no_publish_1"] = _time_per_call(lambda: call(one_event), iterations)
        hundred_event = event_for(hundred)
        out["handler_no_publish_100"] = _time_per_call(
            lambda: call(hundred_event), iterations // 10
        )
    finally:
        Publisher.publish = original  # type: ignore[method-assign]
    return out


def _normalize_split(raw_events: list[dict[str, Any]], iterations: int) -> dict[str, float]:
    """Where normalize_event's time goes, per 100 events, and what pydantic-core alone costs.

    The parts are the steps normalize_event takes (size check, sanitizing walk, model
    validation, dumping the sub-models back to dicts); the what-if validates the same events
    with one TypeAdapter straight from JSON bytes (no sanitizing: not equivalent, an upper
    bound on what a leaner path could gain).
    """
    import orjson
    from pydantic import TypeAdapter

    from logsight.ingest.normalize import sanitize
    from logsight.schemas import IncomingEvent

    cleaned = [sanitize(e, LIMITS)[0] for e in raw_events]
    models = [IncomingEvent.model_validate(c) for c in cleaned]

    def dump_all() -> None:
        for m in models:
            for part in (m.user, m.context, m.error, m.sdk):
                if part is not None:
                    part.model_dump(mode="json", exclude_none=True)

    adapter = TypeAdapter(list[IncomingEvent])
    body = orjson.dumps(raw_events)
    return {
        "normalize_100:size_check": _time_per_call(
            lambda: [orjson.dumps(e) for e in raw_events], iterations
        ),
        "normalize_100:sanitize": _time_per_call(
            lambda: [sanitize(e, LIMITS) for e in raw_events], iterations
        ),
        "normalize_100:model_validate": _time_per_call(
            lambda: [IncomingEvent.model_validate(c) for c in cleaned], iterations
        ),
        "normalize_100:model_dump": _time_per_call(dump_all, iterations),
        "whatif_typeadapter_validate_json_100": _time_per_call(
            lambda: adapter.validate_json(body), iterations
        ),
    }


def _map(fn: Callable[[Any], object], items: list[Any]) -> list[object]:
    return [fn(item) for item in items]


def _copy_values(row: Any) -> tuple[Any, ...]:
    values: tuple[Any, ...] = row.copy_values()
    return values


def _properties(project: UUID) -> dict[str, Any]:
    return {
        "content_type": "application/json",
        "delivery_mode": 2,
        "message_id": "m",
        "timestamp": int(time.time()),
        "application_headers": {"x-logsight-schema": 1, "x-logsight-project": str(project)},
    }


def _bodies(
    project: UUID, pool: list[dict[str, Any]], per_message: int, messages: int
) -> list[bytes]:
    """Ingest-built messages (fresh event ids each call, so every row is a real insert)."""
    return [
        message_body(project, [pool[(m * per_message + i) % len(pool)] for i in range(per_message)])
        for m in range(messages)
    ]


def _poller_event(project: UUID, bodies: list[bytes]) -> dict[str, Any]:
    """The aws:rmq event the local poller builds for a batch of these bodies."""
    from logsight.local.payloads import rmq_event, rmq_message

    properties = _properties(project)
    return rmq_event(
        "logsight.events.0",
        "/",
        [rmq_message(b, dict(properties), redelivered=False) for b in bodies],
    )


def processor(iterations: int) -> dict[str, float]:
    import psycopg

    import functions.processor.handler as handler_module
    from logsight.local.context import LocalContext
    from logsight.local.functions import PROCESSOR
    from logsight.processing.records import records_from_event
    from logsight.processing.rows import message_rows
    from logsight.processing.user_agent import parse_user_agent
    from logsight.queue.message import decode
    from logsight.storage.mode import StorageMode, recorded_mode
    from logsight.storage.writer import _COPY, _STATEMENT, EventWriter

    project = UUID(os.environ["BENCH_PROJECT"])
    database_url = os.environ["LOGSIGHT_DATABASE_URL"]
    rng = random.Random(9)
    pool = [sample_event(rng) for _ in range(500)]
    out: dict[str, float] = {}
    # The first user agent parsed in a process pays for building the parser (lazily, on the
    # first batch); later ones hit the cache or the built parser.
    began = time.perf_counter()
    parse_user_agent(USER_AGENTS[0])
    out["first_user_agent_parse_ms"] = (time.perf_counter() - began) * 1000
    began = time.perf_counter()
    parse_user_agent(USER_AGENTS[1])
    out["second_user_agent_parse_ms"] = (time.perf_counter() - began) * 1000
    rounds = max(iterations // 200, 3)

    # (events per message, messages per batch): a full batch of 100-event messages is capped
    # near 48 messages by the 6 MB invocation payload; single-event messages by batch_size.
    for per_message, messages in ((100, 48), (1, 500)):
        events = per_message * messages
        tag = f"{per_message}x{messages}"
        bodies = _bodies(project, pool, per_message, messages)

        def per_event(fn: Callable[[], object], events: int = events) -> float:
            return _time_per_call(fn, rounds) / events

        out[f"poller_event_build_{tag}"] = per_event(partial(_poller_event, project, bodies))
        event = _poller_event(project, bodies)
        out[f"records_from_event_{tag}"] = per_event(partial(records_from_event, event))
        records = records_from_event(event)
        out[f"decode_{tag}"] = per_event(partial(_map, decode, [r.raw for r in records]))
        decoded = [decode(r.raw) for r in records]
        out[f"message_rows_{tag}"] = per_event(partial(_map, message_rows, decoded))
        rows = [row for m in decoded for row in message_rows(m)]
        out[f"copy_values_{tag}"] = per_event(partial(_map, _copy_values, rows))

        with psycopg.connect(database_url, autocommit=True) as conn:
            mode = recorded_mode(conn)
            assert mode is not None
            writer = EventWriter(StorageMode(mode))
            writer.prepare(conn, {r.timestamp.date() for r in rows})
            copy_s = insert_s = commit_s = 0.0
            for _ in range(rounds):
                fresh = [
                    row
                    for m in (decode(b) for b in _bodies(project, pool, per_message, messages))
                    for row in message_rows(m)
                ]
                values = [r.copy_values() for r in fresh]
                conn.execute("BEGIN")
                t0 = time.perf_counter()
                with conn.cursor() as cur:
                    with cur.copy(_COPY) as copy:
                        for v in values:
                            copy.write_row(v)
                    t1 = time.perf_counter()
                    cur.execute(_STATEMENT)
                    cur.fetchone()
                    cur.execute("TRUNCATE events_staging")
                t2 = time.perf_counter()
                conn.execute("COMMIT")
                t3 = time.perf_counter()
                copy_s += t1 - t0
                insert_s += t2 - t1
                commit_s += t3 - t2
            out[f"db_copy_staging_{tag}"] = copy_s / rounds / events * 1e6
            out[f"db_insert_events_rollups_{tag}"] = insert_s / rounds / events * 1e6
            out[f"db_commit_{tag}"] = commit_s / rounds / events * 1e6
            out.update(_explain(conn, _STATEMENT, _COPY, tag, events, project, pool, per_message))

        # The whole handler, as the poller calls it, on fresh batches.
        context: Any = LocalContext(PROCESSOR.name, PROCESSOR.timeout_seconds)
        whole: list[float] = []
        for _ in range(rounds + 1):
            event = _poller_event(project, _bodies(project, pool, per_message, messages))
            began = time.perf_counter()
            handler_module.handler(event, context)
            whole.append(time.perf_counter() - began)
        out[f"handler_total_{tag}"] = min(whole[1:]) / events * 1e6
    return out


def _explain(
    conn: Any,
    statement: bytes,
    copy_sql: str,
    tag: str,
    events: int,
    project: UUID,
    pool: list[dict[str, Any]],
    per_message: int,
) -> dict[str, float]:
    """EXPLAIN ANALYZE of the batch insert on a fresh staging load: µs per event by table."""
    from logsight.processing.rows import message_rows
    from logsight.queue.message import decode

    rows = [
        row
        for m in (decode(b) for b in _bodies(project, pool, per_message, events // per_message))
        for row in message_rows(m)
    ]
    out: dict[str, float] = {}
    with conn.transaction(), conn.cursor() as cur:
        with cur.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row(row.copy_values())
        cur.execute(b"EXPLAIN (ANALYZE, FORMAT JSON) " + statement)
        plan = cur.fetchone()[0][0]
        cur.execute("TRUNCATE events_staging")
    out[f"explain_{tag}::total"] = plan["Execution Time"] * 1000 / events

    def walk(node: dict[str, Any]) -> None:
        if node.get("Node Type") == "ModifyTable":
            name = f"explain_{tag}::{node.get('Relation Name', '?')}"
            out[name] = out.get(name, 0.0) + node["Actual Total Time"] * 1000 / events
        for child in node.get("Plans", []):
            walk(child)

    walk(plan["Plan"])
    return out


def main() -> None:
    which = sys.argv[1]
    iterations = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    result = ingest(iterations) if which == "ingest" else processor(iterations)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
