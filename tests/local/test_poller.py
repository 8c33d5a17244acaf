"""The local event source mapping (QueuePoller) against a real RabbitMQ.

Each test gets fresh queues (its own exchange and queue prefix) in a vhost of this module, and a
recording handler standing in for the Lambda function, except the dead-letter test, whose
dead-letter queue is drained by the real processor function into the real database.
"""

from __future__ import annotations

import base64
import gc
import itertools
import re
import subprocess
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import amqp
import psycopg
import pytest
from amqp.exceptions import AMQPDeprecationWarning

from functions.processor import handler as processor_function
from logsight.config import Settings, get_settings
from logsight.local.functions import PROCESSOR, FunctionSpec
from logsight.local.poller import QueuePoller
from logsight.processing.records import records_from_event
from logsight.queue.connection import vhost_of
from logsight.queue.publisher import Publisher
from logsight.queue.topology import ensure_topology, routing_key
from logsight.storage.projects import CreatedProject
from tests.conftest import create_vhost, delete_vhost
from tests.support.processor import AWS_EXAMPLE, message

pytestmark = pytest.mark.timeout(120)

# Names the function in the Lambda context; never loaded, the recording handler is passed in.
RECORDER = FunctionSpec("logsight-test-recorder", "tests.local.test_poller:RecordingHandler", 30)
AWS_MESSAGE = next(iter(AWS_EXAMPLE["rmqMessagesByQueue"].values()))[0]
# "Jan 1, 1970, 12:33:41 AM", as Amazon MQ formats AMQP timestamps.
AMQP_TIMESTAMP = re.compile(r"^[A-Z][a-z]{2} \d{1,2}, \d{4}, \d{1,2}:\d{2}:\d{2} [AP]M$")


@dataclass
class Call:
    at: float
    event: dict[str, Any]

    @property
    def messages(self) -> list[dict[str, Any]]:
        (messages,) = self.event["rmqMessagesByQueue"].values()
        return list(messages)

    @property
    def bodies(self) -> list[bytes]:
        return [base64.b64decode(m["data"]) for m in self.messages]


@dataclass
class RecordingHandler:
    """Our stand-in for the processor function: records every event it is invoked with."""

    fail_first: int = 0  # raise on this many calls, then succeed
    gate: threading.Event | None = None  # if set, each call blocks until it is set
    calls: list[Call] = field(default_factory=list)
    entered: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(Call(time.monotonic(), event))
            attempt = len(self.calls)
        self.entered.set()
        if self.gate is not None:
            self.gate.wait(60)
        if attempt <= self.fail_first:
            raise ConnectionError(f"simulated infrastructure fault #{attempt}")
        return {"ok": True}

    def bodies(self) -> list[bytes]:
        with self._lock:
            return [body for call in self.calls for body in call.bodies]

    def received(self, body: bytes) -> Callable[[], bool]:
        return lambda: body in self.bodies()

    def wait_for(self, condition: Callable[[], bool], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; {len(self.calls)} calls so far")
            time.sleep(0.02)


@pytest.fixture(scope="module")
def vhost_url() -> Iterator[str]:
    url = create_vhost("logsight-poller")
    yield url
    delete_vhost(url)


@pytest.fixture
def queues(vhost_url: str, database_url: str) -> Settings:
    """Fresh exchange, one shard queue and a dead-letter queue, with the product's defaults."""
    name = f"poller-{uuid.uuid4().hex[:8]}"
    settings = Settings(
        amqp_url=vhost_url,
        database_url=database_url,
        exchange=name,
        queue_prefix=name,
        shards=1,
        publish_timeout_seconds=5,
    )
    ensure_topology(settings)
    return settings


@pytest.fixture
def pollers() -> Iterator[Callable[..., QueuePoller]]:
    started: list[QueuePoller] = []

    def start(settings: Settings, handler: Any, **options: Any) -> QueuePoller:
        options.setdefault("queue", settings.shard_queue(0))
        options.setdefault("function", RECORDER)
        options.setdefault("batch_size", 10)
        options.setdefault("batch_window", 0.2)
        poller = QueuePoller(amqp_url=settings.amqp_url, handler=handler, **options)
        poller.start()
        started.append(poller)
        return poller

    yield start
    for poller in started:
        poller.stop()


def publish(settings: Settings, bodies: list[bytes], headers: dict[str, Any] | None = None) -> None:
    publisher = Publisher(settings)
    try:
        for body in bodies:
            publisher.publish(
                body,
                routing_key=routing_key(0),
                message_id=str(uuid.uuid4()),
                headers=headers or {},
            )
    finally:
        publisher.close()


def queue_counts(settings: Settings, queue: str) -> tuple[int, int]:
    """(ready, unacknowledged) as the broker sees them."""
    result = subprocess.run(
        [
            "rabbitmqctl",
            "-q",
            "list_queues",
            "-p",
            vhost_of(settings.amqp_url),
            "--no-table-headers",
            "name",
            "messages_ready",
            "messages_unacknowledged",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    for line in result.stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == queue:
            return int(parts[1]), int(parts[2])
    raise AssertionError(f"queue {queue} not listed:\n{result.stdout}")


def bodies(count: int, tag: str = "") -> list[bytes]:
    return [f'{{"n": {n}, "tag": "{tag}"}}'.encode() for n in range(count)]


def test_batches_respect_batch_size(queues: Settings, pollers: Callable[..., QueuePoller]) -> None:
    sent = bodies(25)
    publish(queues, sent)
    handler = RecordingHandler()
    # A long window: only a full batch is invoked early, so the first two are exactly full.
    poller = pollers(queues, handler, batch_size=10, batch_window=2.0)
    handler.wait_for(lambda: len(handler.bodies()) >= 25)

    sizes = [len(call.messages) for call in handler.calls]
    assert sizes == [10, 10, 5]
    assert sorted(handler.bodies()) == sorted(sent)
    # The poller counts a batch once its handler has returned, a moment after the handler saw it.
    handler.wait_for(lambda: poller.stats.batches == 3)
    assert poller.stats.messages == 25
    handler.wait_for(lambda: queue_counts(queues, queues.shard_queue(0)) == (0, 0))


def test_an_invocation_carries_at_most_6_mb(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    # Amazon MQ mappings cap an invocation's payload at 6 MB, base64 included.
    sent = [bytes([n]) * (1024 * 1024) for n in range(8)]
    publish(queues, sent)
    handler = RecordingHandler()
    pollers(queues, handler, batch_size=100, batch_window=1.0)
    handler.wait_for(lambda: len(handler.bodies()) >= 8)

    payloads = [sum(len(m["data"]) for m in call.messages) for call in handler.calls]
    assert all(size <= 6 * 1024 * 1024 for size in payloads), payloads
    assert [len(call.messages) for call in handler.calls] == [4, 4]
    assert handler.bodies() == sent


def test_the_batching_window_flushes_a_partial_batch(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    handler = RecordingHandler()
    pollers(queues, handler, batch_size=100, batch_window=1.0)
    time.sleep(0.5)  # the poller is consuming before anything arrives
    sent = bodies(3)
    publish(queues, sent)
    handler.wait_for(lambda: len(handler.bodies()) >= 3)
    # 3 of 100: nothing but the window could have released them, and it released them together.
    assert len(handler.calls) == 1
    assert handler.calls[0].bodies == sent


def test_the_event_has_the_documented_aws_rmq_shape(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    body = b'{"hello": "world"}'
    publish(queues, [body], headers={"x-logsight-project": "p-1", "x-logsight-schema": 1})
    handler = RecordingHandler()
    pollers(queues, handler)
    handler.wait_for(lambda: bool(handler.calls))
    event = handler.calls[0].event

    assert event.keys() == AWS_EXAMPLE.keys()
    assert event["eventSource"] == "aws:rmq"
    assert re.fullmatch(
        r"arn:aws:mq:[a-z0-9-]+:\d{12}:broker:[\w-]+:b-[\w-]+", event["eventSourceArn"]
    )
    vhost = vhost_of(queues.amqp_url)
    assert list(event["rmqMessagesByQueue"]) == [f"{queues.shard_queue(0)}::{vhost}"]
    (record,) = handler.calls[0].messages
    assert record.keys() == AWS_MESSAGE.keys()
    properties = record["basicProperties"]
    assert properties.keys() == AWS_MESSAGE["basicProperties"].keys()
    assert base64.b64decode(record["data"]) == body
    assert record["redelivered"] is False
    assert properties["contentType"] == "application/json"
    assert properties["deliveryMode"] == 2
    assert properties["bodySize"] == len(body)
    assert uuid.UUID(properties["messageId"])
    assert AMQP_TIMESTAMP.match(properties["timestamp"])
    # Strings arrive as byte arrays, numbers as numbers, exactly like Amazon MQ renders them.
    assert properties["headers"] == {
        "x-logsight-project": {"bytes": list(b"p-1")},
        "x-logsight-schema": 1,
    }

    # And the processor's own parsing (Powertools' RabbitMQEvent) reads it back.
    (parsed,) = records_from_event(event)
    assert (parsed.queue, parsed.vhost, parsed.raw) == (queues.shard_queue(0), vhost, body)
    assert parsed.header_text("x-logsight-project") == "p-1"
    assert parsed.message_id == properties["messageId"]


def test_messages_are_acked_only_after_the_handler_returns(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    queue = queues.shard_queue(0)
    sent = bodies(4)
    publish(queues, sent)
    gate = threading.Event()
    handler = RecordingHandler(gate=gate)
    pollers(queues, handler)
    assert handler.entered.wait(30)

    # The function is still running: the broker holds the whole batch as delivered, unacked.
    # (The broker publishes queue statistics every few seconds, hence the waiting.)
    handler.wait_for(lambda: queue_counts(queues, queue) == (0, 4))
    assert not gate.is_set()
    assert len(handler.calls) == 1
    gate.set()
    handler.wait_for(lambda: queue_counts(queues, queue) == (0, 0))
    assert len(handler.calls) == 1


def test_a_failed_invocation_gets_the_whole_batch_back_redelivered(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    queue = queues.shard_queue(0)
    sent = bodies(5)
    publish(queues, sent)
    handler = RecordingHandler(fail_first=1)
    poller = pollers(queues, handler, retry_delay=0.05)
    handler.wait_for(lambda: len(handler.calls) >= 2)
    handler.wait_for(lambda: queue_counts(queues, queue) == (0, 0))

    first, second = handler.calls[:2]
    assert first.bodies == sent
    assert [m["redelivered"] for m in first.messages] == [False] * 5
    assert sorted(second.bodies) == sorted(sent)
    assert [m["redelivered"] for m in second.messages] == [True] * 5
    assert len(handler.calls) == 2
    assert (poller.stats.failures, poller.stats.batches, poller.stats.messages) == (1, 1, 5)


def test_a_failing_function_is_retried_with_growing_delays(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    publish(queues, bodies(1))
    handler = RecordingHandler(fail_first=4)
    pollers(queues, handler, retry_delay=0.2, max_retry_delay=0.5)
    handler.wait_for(lambda: len(handler.calls) >= 5)
    handler.wait_for(lambda: queue_counts(queues, queues.shard_queue(0)) == (0, 0))

    times = [call.at for call in handler.calls]
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Lower bounds only: the poller must wait at least this long, 0.2 s doubling, capped at 0.5 s.
    for gap, least in zip(gaps, [0.2, 0.4, 0.5, 0.5], strict=True):
        assert gap >= least * 0.95, gaps
    assert len(handler.calls) == 5


def test_a_dropped_connection_is_re_established_every_time(
    queues: Settings,
    pollers: Callable[..., QueuePoller],
    caplog: pytest.LogCaptureFixture,
    recwarn: pytest.WarningsRecorder,
) -> None:
    handler = RecordingHandler()
    pollers(queues, handler)
    vhost = vhost_of(queues.amqp_url)
    for round_ in range(3):
        # Only this test's poller is connected to this vhost; the shared broker stays up.
        subprocess.run(
            ["rabbitmqctl", "-q", "close_all_connections", "--vhost", vhost, "fault test"],
            check=True,
            capture_output=True,
            timeout=30,
        )
        sent = bodies(1, tag=f"after-drop-{round_}")
        publish(queues, sent)
        handler.wait_for(handler.received(sent[0]))

    retries = [r.getMessage() for r in caplog.records if "broker connection lost" in r.getMessage()]
    assert len(retries) >= 3
    # A connection that came back resets the backoff: the third drop is not waited out longer.
    assert all(message.endswith("retrying in 1s") for message in retries), retries
    # py-amqp warns when a closed connection's transport is touched, and then silently opens a
    # new connection: cleaning up a dropped connection must not do that.
    assert not [w for w in recwarn if issubclass(w.category, AMQPDeprecationWarning)]


def test_after_the_delivery_limit_the_processor_records_a_dead_letter(
    queues: Settings,
    pollers: Callable[..., QueuePoller],
    project: CreatedProject,
    db: psycopg.Connection,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The real processor function, configured from the environment like on Lambda.
    monkeypatch.setenv("LOGSIGHT_DATABASE_URL", queues.database_url or "")
    monkeypatch.setenv("LOGSIGHT_QUEUE_PREFIX", queues.queue_prefix)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    monkeypatch.setattr(processor_function, "_processor", None)
    try:
        body = message(project.id, {"name": f"poison-{uuid.uuid4().hex[:8]}"})
        publish(queues, [body], headers={"x-logsight-project": str(project.id)})
        always_fails = RecordingHandler(fail_first=1_000)
        shard = pollers(queues, always_fails, retry_delay=0.05, max_retry_delay=0.2)
        dead = pollers(
            queues,
            processor_function.handler,
            queue=queues.dead_letter_queue,
            function=PROCESSOR,
            batch_size=10,
            batch_window=0.2,
        )

        deadline = time.monotonic() + 60
        row = None
        while row is None and time.monotonic() < deadline:
            row = db.execute(
                "SELECT reason, raw, project_id, source, details FROM dead_letters"
                " WHERE digest = sha256(%s)",
                (body,),
            ).fetchone()
            time.sleep(0.1)
        assert row is not None, f"no dead letter; shard {shard.stats}, dlq {dead.stats}"
        reason, raw, project_id, source, details = row
        assert reason == f"delivery limit exceeded (queue {queues.shard_queue(0)})"
        assert bytes(raw) == body
        assert project_id == project.id
        assert source == queues.dead_letter_queue
        assert details["death_reason"] == "delivery_limit"

        # The first delivery and `delivery_limit` redeliveries reached the function; then the
        # broker gave up on the message.
        assert len(always_fails.calls) == queues.delivery_limit + 1
        assert all(call.bodies == [body] for call in always_fails.calls)
        always_fails.wait_for(lambda: queue_counts(queues, queues.shard_queue(0)) == (0, 0))
        always_fails.wait_for(lambda: queue_counts(queues, queues.dead_letter_queue) == (0, 0))
        assert dead.stats.failures == 0
        assert dead.stats.messages == 1
    finally:
        get_settings.cache_clear()


class _Probe:
    """Something weakly referable that rides in the event, to see when the event is freed."""


@dataclass
class MessageCensus:
    """A handler counting, while it runs, the amqp messages of its batch still alive."""

    sent: list[bytes]
    alive: list[int] = field(default_factory=list)
    probes: list[weakref.ref[_Probe]] = field(default_factory=list)

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        gc.collect()
        self.alive.append(
            sum(
                1
                for o in gc.get_objects()
                if isinstance(o, amqp.Message) and bytes(o.body) in self.sent
            )
        )
        probe = _Probe()
        event["probe"] = probe
        self.probes.append(weakref.ref(probe))
        return {"ok": True}


def test_nothing_of_a_batch_is_kept_but_its_event(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    # The bodies are in the event (base64, as AWS sends them); the broker's messages holding
    # them again are let go before the function runs, and the event once it returned.
    sent = [f'{{"n": {n}, "pad": "{"x" * 4000}"}}'.encode() for n in range(5)]
    publish(queues, sent)
    census = MessageCensus(sent)
    poller = pollers(queues, census, batch_size=5, batch_window=0.5)
    wait_until(lambda: poller.stats.batches == 1)

    assert census.alive == [0]
    assert [probe() for probe in census.probes] == [None]


def test_the_c_heap_is_trimmed_after_a_large_batch_only(
    queues: Settings, pollers: Callable[..., QueuePoller]
) -> None:
    order: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        order.append("function")
        return {"ok": True}

    poller = pollers(
        queues,
        handler,
        batch_size=10,
        batch_window=0.5,
        release_memory=lambda: order.append("trim"),
    )
    publish(queues, bodies(3))
    wait_until(lambda: poller.stats.batches == 1)
    assert order == ["function"]

    # Two 600 KB bodies: one batch of more than TRIM_AFTER_BYTES.
    publish(queues, [bytes([65 + n]) * (600 * 1024) for n in range(2)])
    wait_until(lambda: poller.stats.batches == 2 and len(order) == 3)
    assert poller.stats.messages == 5
    assert order == ["function", "function", "trim"]


def wait_until(condition: Callable[[], bool], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.02)
