"""The local stand-in for Amazon MQ's event source mapping: one poller per queue.

Like the AWS mapping it gathers up to ``batch_size`` messages or waits at most the batching
window, invokes the function with an ``aws:rmq`` event, acknowledges the batch only after the
function returned, and requeues the whole batch when it raised (the broker counts the
redeliveries against the queue's delivery limit).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from dataclasses import dataclass, field

import amqp

from logsight.local.context import LocalContext
from logsight.local.functions import FunctionSpec, Handler
from logsight.local.payloads import rmq_event, rmq_message
from logsight.queue.connection import close_quietly, connect, vhost_of

log = logging.getLogger(__name__)

# Amazon MQ mappings deliver at most 6 MB per invocation (base64 included).
MAX_BATCH_PAYLOAD = 6 * 1024 * 1024 * 3 // 4
MAX_BACKOFF_SECONDS = 30.0


@dataclass
class PollerStats:
    batches: int = 0
    messages: int = 0
    failures: int = 0
    last_error: str | None = None


@dataclass
class _Batch:
    messages: list[amqp.Message] = field(default_factory=list)
    size: int = 0
    started: float = 0.0


class QueuePoller:
    def __init__(
        self,
        *,
        amqp_url: str,
        queue: str,
        function: FunctionSpec,
        batch_size: int,
        batch_window: float,
        handler: Handler | None = None,
    ) -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.function = function
        self.batch_size = batch_size
        self.batch_window = batch_window
        self._handler = handler
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"poller-{self.queue}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        backoff = 1.0
        while not self._stop.is_set():
            try:
                self._consume()
                backoff = 1.0
            except (OSError, amqp.exceptions.AMQPError, EOFError) as exc:
                self.stats.last_error = repr(exc)
                log.warning("poller %s: broker connection lost (%r); retrying", self.queue, exc)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _consume(self) -> None:
        handler = self._handler or self.function.load()
        connection = connect(self.amqp_url, connect_timeout=5, heartbeat=30)
        batch = _Batch()
        try:
            channel = connection.channel()
            channel.basic_qos(0, self.batch_size, False)

            def on_message(message: amqp.Message) -> None:
                if not batch.messages:
                    batch.started = time.monotonic()
                batch.messages.append(message)
                batch.size += len(message.body)

            channel.basic_consume(self.queue, callback=on_message)
            while not self._stop.is_set():
                if batch.messages:
                    wait = batch.started + self.batch_window - time.monotonic()
                else:
                    wait = 1.0
                if wait > 0 and len(batch.messages) < self.batch_size:
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=min(wait, 1.0))
                connection.heartbeat_tick()
                full = len(batch.messages) >= self.batch_size or batch.size >= MAX_BATCH_PAYLOAD
                due = batch.messages and time.monotonic() >= batch.started + self.batch_window
                if full or due:
                    self._invoke(channel, handler, batch.messages)
                    batch.messages, batch.size = [], 0
        finally:
            close_quietly(connection)

    def _invoke(
        self, channel: amqp.Channel, handler: Handler, messages: list[amqp.Message]
    ) -> None:
        event = rmq_event(
            self.queue,
            vhost_of(self.amqp_url),
            [
                rmq_message(
                    bytes(m.body),
                    dict(m.properties),
                    redelivered=bool(m.delivery_info.get("redelivered")),
                )
                for m in messages
            ],
        )
        last_tag = messages[-1].delivery_info["delivery_tag"]
        try:
            handler(event, LocalContext(self.function.name, self.function.timeout_seconds))
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = repr(exc)
            log.warning(
                "%s failed on a batch of %d (%r); requeued", self.function.name, len(messages), exc
            )
            channel.basic_nack(last_tag, multiple=True, requeue=True)
            # The mapping backs off before retrying a failing batch.
            self._stop.wait(1.0)
            return
        channel.basic_ack(last_tag, multiple=True)
        self.stats.batches += 1
        self.stats.messages += len(messages)


def run_pollers(pollers: list[QueuePoller], stop: threading.Event) -> None:
    for poller in pollers:
        poller.start()
    stop.wait()
    for poller in pollers:
        poller.stop()


__all__ = ["QueuePoller", "run_pollers"]
