"""The local gateway's connection limits, with real sockets against a real gateway process:
oversized headers are refused early without being held in memory, and a client that stalls
while sending its headers or its body is cut off within the deadline."""

from __future__ import annotations

import http.client
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
HEADER_TIMEOUT = 1.5
BODY_TIMEOUT = 1.5
MiB = 1024 * 1024


@dataclass
class Gateway:
    process: subprocess.Popen[bytes]
    port: int

    def connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def peak_rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    port = _free_port()
    env = {
        **os.environ,
        "LOGSIGHT_HOST": "127.0.0.1",
        "LOGSIGHT_PORT": str(port),
        "LOGSIGHT_GATEWAY_WORKERS": "2",
        "LOGSIGHT_GATEWAY_HEADER_TIMEOUT_SECONDS": str(HEADER_TIMEOUT),
        "LOGSIGHT_GATEWAY_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        "LOGSIGHT_DATA_DIR": str(tmp_path_factory.mktemp("gateway")),
        "POWERTOOLS_METRICS_DISABLED": "true",
    }
    code = (
        "from logsight.config import Settings\n"
        "from logsight.local.components import run_gateway\n"
        "run_gateway(Settings())\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    gateway = Gateway(process, port)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "the gateway exited"
            try:
                with gateway.connect() as sock:
                    sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                    if sock.recv(100).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the gateway did not start"
            time.sleep(0.2)
        yield gateway
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def read_response(sock: socket.socket, timeout: float) -> tuple[bytes, bool]:
    """(what the server sent, whether it then closed) within ``timeout`` seconds."""
    sock.settimeout(timeout)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except TimeoutError:
        return received, False
    except ConnectionResetError:
        pass
    return received, True


def status_of(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def test_a_normal_request_and_keep_alive(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        for _ in range(3):
            # Headers sent in pieces, within the deadline, are fine.
            sock.sendall(b"GET /health HTTP/1.1\r\n")
            time.sleep(0.3)
            sock.sendall(b"Host: x\r\nX-Padding: " + b"p" * 60_000 + b"\r\n\r\n")
            response = http.client.HTTPResponse(sock)
            response.begin()
            assert response.status == 200
            assert orjson.loads(response.read()) == {"status": "ok"}
            # Idle between requests longer than the header deadline is keep-alive's business.
            time.sleep(HEADER_TIMEOUT * 0.5)


def test_headers_over_the_limit_get_431(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        headers = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 1000) for n in range(70))
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n" + headers + b"\r\n")
        response, closed = read_response(sock, 5)
    assert status_of(response) == 431
    assert closed
    body = orjson.loads(response.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_header_fields_too_large"


def test_a_32_mib_header_is_refused_early_and_not_held(gateway: Gateway) -> None:
    before = gateway.peak_rss_kib()
    chunk = b"a" * 65536
    sent = 0
    response = b""
    with gateway.connect() as sock:
        sock.sendall(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nX-Big: ")
        try:
            while sent < 32 * MiB:
                sock.sendall(chunk)
                sent += len(chunk)
                if select.select([sock], [], [], 0)[0]:
                    response, _ = read_response(sock, 5)
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        if not response:
            response, _ = read_response(sock, 5)
    assert response, "no answer"
    assert status_of(response) == 431
    # Refused after the limit, not after 32 MiB (the rest sits in socket buffers at most).
    assert sent < 16 * MiB, sent
    assert gateway.peak_rss_kib() - before < 8 * 1024


def test_a_stalled_body_gets_408_within_the_deadline(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b'Content-Length: 1000\r\n\r\n{"events": ['
        )
        started = time.monotonic()
        response, closed = read_response(sock, BODY_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert response, "the connection stayed open without an answer"
    assert status_of(response) == 408
    assert closed
    assert elapsed < BODY_TIMEOUT + 1.5
    body = orjson.loads(response.split(b"\r\n\r\n", 1)[1])
    assert body["error"]["code"] == "request_timeout"


def test_a_slow_body_within_the_deadline_is_fine(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        sock.sendall(b"POST /api/health HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n{")
        time.sleep(BODY_TIMEOUT / 2)
        sock.sendall(b"}\r\n")
        response, _ = read_response(sock, 3)
    # The gateway read the whole body, then the api function answered (GET only there).
    assert status_of(response) == 405


def test_half_the_headers_then_a_stall_closes_the_connection(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        started = time.monotonic()
        response, closed = read_response(sock, HEADER_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert closed, "the connection stayed open"
    assert elapsed < HEADER_TIMEOUT + 1.5
    assert status_of(response) == 408


def test_a_silent_connection_is_closed(gateway: Gateway) -> None:
    with gateway.connect() as sock:
        started = time.monotonic()
        response, closed = read_response(sock, HEADER_TIMEOUT + 3)
        elapsed = time.monotonic() - started
    assert closed and response == b""
    assert elapsed < HEADER_TIMEOUT + 1.5
