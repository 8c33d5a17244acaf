"""HTTP receivers on loopback standing in for Slack, Discord, Teams, Telegram, PagerDuty and
webhook consumers: each records what it was sent and answers as told. Threads stop with the
context manager."""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


# Given the request (and how many came before it), returns (status, extra headers, body).
Behaviour = Callable[[Received, int], tuple[int, dict[str, str], bytes]]


def answer(status: int = 200, body: bytes = b"ok") -> Behaviour:
    return lambda request, count: (status, {}, body)


@dataclass
class Receiver:
    host: str
    port: int
    requests: list[Received] = field(default_factory=list)
    connections: int = 0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], handler: type, family: int) -> None:
        self.address_family = family
        super().__init__(address, handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection = super().get_request()
        self.receiver.connections += 1  # type: ignore[attr-defined]
        return connection


@contextmanager
def receiver(
    behaviour: Behaviour | None = None,
    host: str = "127.0.0.1",
    tls: ssl.SSLContext | None = None,
) -> Iterator[Receiver]:
    """A receiver on ``host`` (an ephemeral port); with ``tls``, it speaks HTTPS."""
    behave = behaviour or answer()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = Received(
                "POST",
                self.path,
                {k.lower(): v for k, v in self.headers.items()},
                self.rfile.read(length),
            )
            with lock:
                count = len(found.requests)
                found.requests.append(request)
            status, headers, body = behave(request, count)
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up (a timeout under test)

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    server = _Server((host, 0), Handler, family)
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    found = Receiver(host, server.server_address[1])
    server.receiver = found  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
