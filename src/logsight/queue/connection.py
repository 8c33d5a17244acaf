"""Opening AMQP connections from a URL (amqp:// locally, amqps:// on Amazon MQ)."""

from __future__ import annotations

import contextlib
import ssl
from urllib.parse import unquote, urlsplit

import amqp


def connect(
    url: str, *, connect_timeout: float, heartbeat: int, confirm_publish: bool = False
) -> amqp.Connection:
    parts = urlsplit(url)
    if parts.scheme not in ("amqp", "amqps"):
        raise ValueError(f"AMQP URL must start with amqp:// or amqps://, got {parts.scheme!r}")
    secure = parts.scheme == "amqps"
    port = parts.port or (5671 if secure else 5672)
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    connection = amqp.Connection(
        host=f"{parts.hostname or 'localhost'}:{port}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=vhost,
        ssl=ssl.create_default_context() if secure else False,
        connect_timeout=connect_timeout,
        read_timeout=None,
        write_timeout=connect_timeout,
        heartbeat=heartbeat,
        confirm_publish=confirm_publish,
        client_properties={"connection_name": "logsight"},
    )
    connection.connect()
    return connection


def vhost_of(url: str) -> str:
    path = urlsplit(url).path
    return unquote(path[1:]) if len(path) > 1 else "/"


def close_quietly(connection: amqp.Connection, timeout: float = 1.0) -> None:
    """Close within ``timeout`` even if the broker never answers close-ok."""
    with contextlib.suppress(Exception):
        # Only a live connection may be touched: py-amqp answers `.transport` on a connection
        # the broker already closed by opening a brand-new one (a handshake to a broker that
        # may be down or hanging), just for us to close it again.
        if connection.connected:
            connection.transport.sock.settimeout(timeout)
            connection.close()
    with contextlib.suppress(Exception):
        connection.collect()
