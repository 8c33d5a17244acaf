"""Publishing with publisher confirms, a hard deadline, and reconnection.

One connection per execution environment (per thread in the local gateway), kept across warm
invocations. A Lambda environment can sit frozen for minutes, long enough for the broker to drop
the connection for missed heartbeats; so an idle connection is replaced before use, and a
publish that fails on a connection error is retried once on a fresh connection (the event ids
make a duplicate harmless).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import amqp
from amqp.exceptions import AMQPError, MessageNacked, RecoverableConnectionError

from logsight.config import Settings
from logsight.queue.connection import close_quietly, connect
from logsight.queue.message import CONTENT_TYPE


class PublishError(Exception):
    """The broker did not confirm the message; the client should retry later."""


class UnroutableError(PublishError):
    """No queue is bound for the routing key: the topology is missing (a deployment fault)."""


@dataclass
class _Returned:
    reason: str | None = None


_CONNECTION_ERRORS = (OSError, socket.timeout, AMQPError, RecoverableConnectionError, EOFError)


class Publisher:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._connection: amqp.Connection | None = None
        self._channel: amqp.Channel | None = None
        self._returned = _Returned()
        self._last_used = 0.0

    def publish(
        self,
        body: bytes,
        *,
        routing_key: str,
        message_id: str,
        headers: Mapping[str, Any],
        timeout: float | None = None,
    ) -> None:
        """Return only once the broker has confirmed the message; raise PublishError otherwise."""
        deadline = time.monotonic() + (timeout or self._settings.publish_timeout_seconds)
        message = amqp.Message(
            body,
            content_type=CONTENT_TYPE,
            delivery_mode=2,
            message_id=message_id,
            timestamp=int(time.time()),
            application_headers=dict(headers),
        )
        for attempt in (1, 2):
            fresh = self._connection is None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishError("no broker confirm before the deadline")
            try:
                channel = self._channel_for(remaining)
                self._returned.reason = None
                channel.basic_publish(
                    message,
                    exchange=self._settings.exchange,
                    routing_key=routing_key,
                    mandatory=True,
                    confirm_timeout=max(deadline - time.monotonic(), 0.001),
                )
            except MessageNacked as exc:
                raise PublishError("the broker refused the message (nack)") from exc
            except TimeoutError as exc:
                # The confirm may still come; the connection's state is unknown, so drop it.
                self.close()
                raise PublishError("no broker confirm before the deadline") from exc
            except _CONNECTION_ERRORS as exc:
                self.close()
                if attempt == 2 or fresh:
                    raise PublishError(f"broker unavailable: {exc!r}") from exc
                continue
            self._last_used = time.monotonic()
            if self._returned.reason is not None:
                raise UnroutableError(f"message was returned: {self._returned.reason}")
            return
        raise AssertionError("unreachable")

    def _channel_for(self, remaining: float) -> amqp.Channel:
        idle_limit = self._settings.heartbeat_seconds or 60
        if self._channel is not None and time.monotonic() - self._last_used > idle_limit:
            self.close()
        if self._channel is None:
            connection = connect(
                self._settings.amqp_url,
                connect_timeout=min(self._settings.connect_timeout_seconds, remaining),
                heartbeat=self._settings.heartbeat_seconds,
                confirm_publish=True,
            )
            channel = connection.channel()
            channel.events["basic_return"].add(self._on_return)
            self._connection, self._channel = connection, channel
            self._last_used = time.monotonic()
        else:
            assert self._connection is not None
            # Answers the broker's heartbeats and notices a connection it has already closed.
            self._connection.heartbeat_tick()
        return self._channel

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._returned.reason = f"{exc} (exchange={exchange!r}, routing_key={routing_key!r})"

    def close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            close_quietly(connection)
