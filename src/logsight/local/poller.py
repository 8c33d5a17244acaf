"""The local stand-in for Amazon MQ's event source mapping: one poller per queue.

Like the AWS mapping it gathers up to ``batch_size`` messages or waits at most the batching
window, invokes the function with an ``aws:rmq`` event, acknowledges the batch only after the
function returned, and requeues the whole batch when it raised (the broker counts the
redeliveries against the queue's delivery limit). Failing invocations are retried with
exponential backoff, and a lost broker connection is re-established with backoff too.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import amqp

from logsight.local.allocator import trim_heap
from logsight.local.context import LocalContext
from logsight.local.functions import FunctionSpec, Handler
from logsight.local.payloads import rmq_event, rmq_message
from logsight.queue.connection import close_quietly, connect, vhost_of

log = logging.getLogger(__name__)

# Amazon MQ mappings deliver at most 6 MB per invocation (base64 included).
MAX_BATCH_PAYLOAD = 6 * 1024 * 1024 * 3 // 4
MAX_BACKOFF_SECONDS = 30.0
# A function that raises is retried after 1, 2, 4, 8... seconds. Every failure spends one of the
# queue's deliveries (x-delivery-limit, 5 redeliveries by default), so a fixed short pause would
# dead-letter perfectly good messages within seconds of a database restart; doubling spreads
# the default limit's six attempts over about 30 s, and waits longer still as an outage drags on.
RETRY_DELAY_SECONDS = 1.0
MAX_RETRY_DELAY_SECONDS = 60.0
# After a batch with at least this many bytes of bodies, the freed C heap goes back to the
# system (logsight.local.allocator); smaller batches fit in what the last large one left.
TRIM_AFTER_BYTES = 1024 * 1024


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

    def add(self, message: amqp.Message) -> None:
        if not self.messages:
            self.started = time.monotonic()
        self.messages.append(message)
        self.size += len(message.body)

    def full(self, max_count: int) -> bool:
        return len(self.messages) >= max_count or self.size >= MAX_BATCH_PAYLOAD

    def take(self, max_count: int) -> list[amqp.Message]:
        """The oldest messages that fit one invocation; any others start the next batch.

        More than fits can be waiting here: deliveries keep arriving while a failing function
        is backed off, up to the prefetch count, whatever their size.
        """
        count = size = 0
        for message in self.messages:
            if count and (count >= max_count or size + len(message.body) > MAX_BATCH_PAYLOAD):
                break
            count += 1
            size += len(message.body)
        taken, self.messages = self.messages[:count], self.messages[count:]
        self.size -= size
        self.started = time.monotonic()
        return taken


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
        retry_delay: float = RETRY_DELAY_SECONDS,
        max_retry_delay: float = MAX_RETRY_DELAY_SECONDS,
        release_memory: Callable[[], object] = trim_heap,
    ) -> None:
        self.amqp_url = amqp_url
        self.queue = queue
        self.function = function
        self.batch_size = batch_size
        self.batch_window = batch_window
        self.retry_delay = retry_delay
        self.max_retry_delay = max_retry_delay
        self._handler = handler
        self.release_memory = release_memory
        self.stats = PollerStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # Consecutive failed invocations, and when the next one may start; kept across
        # reconnections so that a broker hiccup does not reset the backoff of a failing function.
        self._failures = 0
        self._retry_at = 0.0
        self._connection_backoff = 1.0

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name=f"poller-{self.queue}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            try:
                self._consume()
            except (OSError, amqp.exceptions.AMQPError, EOFError) as exc:
                self.stats.last_error = repr(exc)
                log.warning(
                    "poller %s: broker connection lost (%r); retrying in %.0fs",
                    self.queue,
                    exc,
                    self._connection_backoff,
                )
            except Exception as exc:
                # Nothing else supervises this thread: dying here would stall the queue while
                # the process looks healthy, so log it and start over like a lost connection.
                self.stats.last_error = repr(exc)
                log.exception("poller %s: unexpected error; restarting it", self.queue)
            else:
                return
            self._stop.wait(self._connection_backoff)
            self._connection_backoff = min(self._connection_backoff * 2, MAX_BACKOFF_SECONDS)

    def _consume(self) -> None:
        handler = self._handler or self.function.load()
        # Heartbeats are answered only between invocations, so the interval must outlast the
        # longest one or the broker drops a connection whose batch is still being processed.
        heartbeat = max(30, int(self.function.timeout_seconds))
        connection = connect(self.amqp_url, connect_timeout=5, heartbeat=heartbeat)
        batch = _Batch()
        try:
            channel = connection.channel()
            channel.basic_qos(0, self.batch_size, False)
            # Only a connection that got this far counts as recovered.
            self._connection_backoff = 1.0

            channel.basic_consume(self.queue, callback=batch.add)
            while not self._stop.is_set():
                now = time.monotonic()
                if batch.messages:
                    full = batch.full(self.batch_size)
                    flush_at = now if full else batch.started + self.batch_window
                    wait = max(flush_at, self._retry_at) - now
                else:
                    wait = 1.0
                if wait > 0:
                    # Keeps reading while backing off too: that answers heartbeats, and the
                    # requeued batch simply comes back into the next one.
                    with contextlib.suppress(TimeoutError):
                        connection.drain_events(timeout=min(wait, 1.0))
                connection.heartbeat_tick()
                now = time.monotonic()
                due = batch.messages and now >= batch.started + self.batch_window
                if (due or batch.full(self.batch_size)) and now >= self._retry_at:
                    self._invoke(channel, handler, batch.take(self.batch_size))
        finally:
            close_quietly(connection)

    def _invoke(
        self, channel: amqp.Channel, handler: Handler, messages: list[amqp.Message]
    ) -> None:
        """Run the function on ``messages``, which it empties: the bodies live on only in the
        event (base64, as AWS sends them) while the function runs, and nothing of the batch is
        kept once it returns."""
        tags = [m.delivery_info["delivery_tag"] for m in messages]
        size = sum(len(m.body) for m in messages)
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
        messages.clear()
        try:
            self._call(channel, handler, event, tags)
        finally:
            del event
            if size >= TRIM_AFTER_BYTES:
                self.release_memory()

    def _call(
        self, channel: amqp.Channel, handler: Handler, event: dict[str, Any], tags: list[int]
    ) -> None:
        try:
            handler(event, LocalContext(self.function.name, self.function.timeout_seconds))
        except Exception as exc:
            self.stats.failures += 1
            self.stats.last_error = repr(exc)
            # The exponent is capped so that a days-long outage cannot overflow the float.
            delay = min(self.retry_delay * 2 ** min(self._failures, 30), self.max_retry_delay)
            self._failures += 1
            self._retry_at = time.monotonic() + delay
            log.warning(
                "%s failed on a batch of %d (%r); requeued, next attempt in %.1fs",
                self.function.name,
                len(tags),
                exc,
                delay,
            )
            # basic.reject, one per message: py-amqp has no basic.nack (a RabbitMQ extension),
            # and each rejection counts against that message's delivery limit all the same.
            for tag in tags:
                channel.basic_reject(tag, requeue=True)
            return
        self._failures = 0
        self._retry_at = 0.0
        channel.basic_ack(tags[-1], multiple=True)
        self.stats.batches += 1
        self.stats.messages += len(tags)


def run_pollers(pollers: list[QueuePoller], stop: threading.Event) -> None:
    for poller in pollers:
        poller.start()
    stop.wait()
    for poller in pollers:
        poller.stop()


__all__ = ["QueuePoller", "run_pollers"]
