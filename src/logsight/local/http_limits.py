"""Per-connection limits for the local gateway: a cap on request head size and deadlines for
receiving the head and the body.

uvicorn's httptools protocol (chosen for speed) has none of these: httptools keeps
accumulating a header however long it grows, a connection may stay silent forever, and a
stalled upload is waited for indefinitely. This subclass adds them around the parser while
keeping the hot path light: bytes are counted per read (not per header), the head is measured
only when the bytes read pass the limit, and a timer is armed only for a head or body still
incomplete after a read (plus one per connection for its first request).

- The head (request line and headers) may hold at most ``max_header_bytes``: counted as bytes
  arrive, so an endless header is refused after the limit plus one read, never held whole,
  and checked exactly once the head is complete. Answer: 431.
- The head must arrive within ``header_timeout`` of the connection opening (first request) or
  of its first byte (later requests; idle keep-alive connections are closed by uvicorn's
  keep-alive timeout). A connection that sent nothing is closed; a partial head gets 408.
- The body must arrive within ``body_timeout`` of the head. Otherwise 408, and the handler
  sees a disconnect.

After such an answer the connection is half-closed and whatever the client still sends is
read and discarded for a moment before closing, so the client can read the answer instead of
getting a reset for the bytes it had in flight.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import ClassVar

import orjson
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from logsight.config import Settings
from logsight.errors import ApiError

# Request line bytes besides method and target: " HTTP/1.1\r\n", and each header's ": \r\n".
_LINE_OVERHEAD = 11
_HEADER_OVERHEAD = 4
# How long a refused connection's further input is drained before it is closed.
_LINGER_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    max_header_bytes: int = 64 * 1024
    header_timeout: float = 10.0
    body_timeout: float = 60.0

    @classmethod
    def from_settings(cls, settings: Settings) -> ConnectionLimits:
        return cls(
            max_header_bytes=settings.gateway_max_header_bytes,
            header_timeout=settings.gateway_header_timeout_seconds,
            body_timeout=settings.gateway_body_timeout_seconds,
        )


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class for uvicorn's ``http`` option, with these limits."""

    class Limited(LimitedHttpToolsProtocol):
        pass

    Limited.limits = limits
    return Limited


def _error_response(status: int, code: str, message: str) -> bytes:
    body = orjson.dumps(ApiError(status, code, message).body())
    return b"".join(
        [
            STATUS_LINE[status],
            b"content-type: application/json\r\n",
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n\r\n",
            body,
        ]
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits] = ConnectionLimits()

    _head_open = True  # reading a request head (none of it parsed yet, or part of it)
    _head_bytes = 0
    _refused = False
    _head_timer: asyncio.TimerHandle | None = None
    _body_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_expired)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # draining after an answer
        if self._head_open:
            self._head_bytes += len(data)
        super().data_received(data)
        if self._refused:
            return
        # Timers only for what is left waiting after this read: a request that arrives whole
        # in one read (the common case) arms none.
        if self._head_open:
            if self._head_bytes > self.limits.max_header_bytes:
                # Still inside a head past the limit: refuse before holding any more of it.
                self._refuse_oversized_head()
            elif self._head_bytes and self._head_timer is None:
                self._head_timer = self.loop.call_later(
                    self.limits.header_timeout, self._head_expired
                )
        elif self._body_timer is None:
            self._body_timer = self.loop.call_later(self.limits.body_timeout, self._body_expired)

    def on_headers_complete(self) -> None:
        if self._refused:
            return
        self._head_open = False
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        # The bytes read so far bound the head: measure it only when they pass the limit.
        if self._head_bytes > self.limits.max_header_bytes and self._head_size() > (
            self.limits.max_header_bytes
        ):
            self._refuse_oversized_head()
            return
        super().on_headers_complete()

    def _head_size(self) -> int:
        size = len(self.url) + _LINE_OVERHEAD + len(self.parser.get_method())
        return size + sum(len(n) + len(v) + _HEADER_OVERHEAD for n, v in self.headers)

    def on_body(self, body: bytes) -> None:
        if not self._refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if self._refused:
            return
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        self._head_open = True
        self._head_bytes = 0
        super().on_message_complete()

    # Refusals

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _refuse_oversized_head(self) -> None:
        limit = self.limits.max_header_bytes
        self._refuse(431, "request_header_fields_too_large", f"the request head exceeds {limit} B")

    def _timed_out(self, part: str, seconds: float) -> None:
        self._refuse(
            408, "request_timeout", f"the request {part} did not arrive within {seconds:g} s"
        )

    def _close(self) -> None:
        self._refused = True
        self.transport.close()

    def _head_expired(self) -> None:
        self._head_timer = None
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # A pipelined head stalls behind a request still being answered: end the
            # connection after that answer rather than corrupt it.
            cycle.keep_alive = False
            return
        if cycle is None and self._head_bytes == 0:
            self._close()  # the connection never sent a byte
            return
        self._timed_out("headers", self.limits.header_timeout)

    def _body_expired(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if cycle is None:
            return  # handed over to another protocol (an upgrade)
        if cycle.response_started:
            self._close()  # answered already (the route did not need the body)
            return
        # The handler waiting for the body sees a disconnect and its answer is dropped.
        cycle.disconnected = True
        cycle.message_event.set()
        self._timed_out("body", self.limits.body_timeout)

    def _refuse(self, status: int, code: str, message: str) -> None:
        self._refused = True
        self._cancel_timers()
        transport = self.transport
        if transport.is_closing():
            return
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.disconnected:
            # An earlier request is still being answered (pipelining): let that answer finish,
            # then close, rather than write into the middle of it.
            cycle.keep_alive = False
            return
        transport.write(_error_response(status, code, message))
        if not transport.can_write_eof():
            transport.close()
            return
        transport.write_eof()
        self.loop.call_later(_LINGER_SECONDS, transport.close)
