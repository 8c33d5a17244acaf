"""How full the queues are: messages waiting and consumers per queue, read from the broker.

A passive ``queue.declare`` answers both without changing anything and needs no management
plugin (Amazon MQ for RabbitMQ answers it the same way). Waiting messages are the consumers'
lag: what ingest accepted and the processor has not taken yet (messages being processed are
not counted). The broker may be unreachable from where the API runs, or slow: the probe gives
up after a short timeout and answers None, and an answer is kept for a few seconds so that
dashboards polling every few seconds do not open a connection each time.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import amqp

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect

log = logging.getLogger(__name__)

PROBE_TIMEOUT_SECONDS = 2.0
CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class QueueDepth:
    name: str
    # None: this queue does not exist (not declared yet, or another shard count).
    messages: int | None
    consumers: int | None


def queue_names(settings: Settings) -> list[str]:
    return [settings.shard_queue(i) for i in range(settings.shards)] + [settings.dead_letter_queue]


def probe(settings: Settings) -> list[QueueDepth] | None:
    """Each queue's depth, or None when the broker cannot be asked."""
    timeout = min(PROBE_TIMEOUT_SECONDS, settings.connect_timeout_seconds)
    try:
        connection = connect(settings.amqp_url, connect_timeout=timeout, heartbeat=0)
    except Exception as exc:
        log.info("queue depth unavailable: %s", exc)
        return None
    try:
        # The declare-ok has no timeout of its own: a broker that stops answering must not
        # hold the request.
        connection.transport.sock.settimeout(timeout)
        depths = []
        channel = connection.channel()
        for name in queue_names(settings):
            try:
                _, messages, consumers = channel.queue_declare(name, passive=True)
                depths.append(QueueDepth(name, int(messages), int(consumers)))
            except amqp.exceptions.NotFound:
                # The broker closed the channel: the next queue needs a new one.
                depths.append(QueueDepth(name, None, None))
                channel = connection.channel()
        return depths
    except Exception as exc:
        log.info("queue depth unavailable: %s", exc)
        return None
    finally:
        close_quietly(connection)


class DepthCache:
    """The last probe's answer for CACHE_SECONDS, per process (threads share it)."""

    def __init__(self, settings: Settings, ttl: float = CACHE_SECONDS) -> None:
        self.settings = settings
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._value: list[QueueDepth] | None = None

    def get(self) -> list[QueueDepth] | None:
        with self._lock:
            now = time.monotonic()
            if now - self._at >= self.ttl:
                self._value = probe(self.settings)
                self._at = time.monotonic()
            return self._value
