"""Real Sentry SDK error envelopes, recorded once from sentry-sdk and replayed with fresh ids.

The SDK builds each envelope exactly as it would send it (stack trace with local variables,
breadcrumbs, user, tags, release, contexts); a recording transport keeps the bytes instead of
sending them. Every replay gets a new event id, so the database stores each one, and is gzipped
with the headers the SDK's HTTP transport sends.
"""

from __future__ import annotations

import gzip
import random
import uuid
from typing import Any, ClassVar
from urllib.parse import urlsplit

import sentry_sdk
from sentry_sdk.envelope import Envelope
from sentry_sdk.transport import Transport

from bench.http import Request


class _Recorder(Transport):
    recorded: ClassVar[list[Envelope]] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        _Recorder.recorded.append(envelope)


class CartError(ValueError):
    pass


def _checkout(cart: dict[str, Any], depth: int) -> None:
    if depth > 0:
        _checkout(cart, depth - 1)
        return
    total = sum(item["price"] * item["qty"] for item in cart["items"])
    raise CartError(f"cart {cart['id']} cannot be checked out (total {total})")


def _lookup(table: dict[str, int], name: str) -> int:
    return table[name]  # KeyError, a different issue


def record_envelopes(dsn: str, count: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """``count`` envelopes as (event id, serialized bytes), from the real SDK."""
    _Recorder.recorded = []
    sentry_sdk.init(
        dsn=dsn,
        transport=_Recorder,
        release=f"shop@1.{rng.randrange(5)}.0",
        environment="production",
        default_integrations=False,
        send_default_pii=True,
    )
    try:
        for i in range(count):
            with sentry_sdk.new_scope() as scope:
                user = rng.randrange(5000)
                scope.set_user({"id": f"user-{user}", "email": f"user{user}@example.com"})
                scope.set_tag("region", rng.choice(("eu-west-1", "us-east-1")))
                for step in range(rng.randrange(1, 6)):
                    sentry_sdk.add_breadcrumb(category="cart", message=f"step {step}")
                try:
                    if i % 3 == 2:
                        _lookup({"a": 1}, f"missing-{rng.randrange(20)}")
                    cart = {
                        "id": rng.randrange(100_000),
                        "items": [{"price": 9.5, "qty": rng.randrange(1, 4)}],
                    }
                    _checkout(cart, rng.randrange(1, 8))
                except (CartError, KeyError):
                    sentry_sdk.capture_exception()
        sentry_sdk.flush()
    finally:
        sentry_sdk.init()  # no DSN: the SDK is off again for the rest of the process
    recorded = []
    for envelope in _Recorder.recorded:
        event_id = envelope.headers.get("event_id")
        if event_id:
            recorded.append((str(event_id), envelope.serialize()))
    return recorded


def envelope_request(dsn: str, event_id: str, envelope: bytes) -> Request:
    """A request sending ``envelope`` under a fresh event id, as the SDK's transport would."""
    parts = urlsplit(dsn)
    project = parts.path.rstrip("/").rpartition("/")[2]
    prefix = parts.path.rstrip("/").rpartition("/")[0]
    body = gzip.compress(envelope.replace(event_id.encode(), uuid.uuid4().hex.encode()), 6)
    auth = (
        f"Sentry sentry_key={parts.username}, sentry_version=7,"
        f" sentry_client=sentry.python/{sentry_sdk.VERSION}"
    )
    return Request(
        f"{prefix}/api/{project}/envelope/",
        body,
        (
            ("Content-Type", "application/x-sentry-envelope"),
            ("Content-Encoding", "gzip"),
            ("X-Sentry-Auth", auth),
        ),
    )
