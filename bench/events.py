"""Representative events and the queue messages ingest builds from them.

A browser-style event (~0.8 KB of JSON: properties, user, session, context with a user agent,
release, environment, sdk) and, one in ten, an error with a five-frame stack trace, so the
processor exercises user-agent parsing and fingerprinting as it would in production.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson

from logsight.ingest.normalize import Limits, normalize_event
from logsight.queue.message import EventMessage

LIMITS = Limits(
    max_event_bytes=1024 * 1024,
    max_json_depth=32,
    max_properties=256,
    max_string_bytes=8 * 1024,
    max_past=timedelta(days=30),
    max_future=timedelta(seconds=60),
)

USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
)
PAGES = ("/", "/pricing", "/docs/getting-started", "/app/dashboard", "/app/settings/billing")
NAMES = ("page_view", "signup_clicked", "checkout_started", "search", "feature_used")


def sample_event(rng: random.Random, *, marker: str | None = None) -> dict[str, Any]:
    """One raw event as a client would send it (no event_id, no timestamp: ingest adds them)."""
    user = rng.randrange(5000)
    page = rng.choice(PAGES)
    event: dict[str, Any] = {
        "name": marker or rng.choice(NAMES),
        "properties": {
            "plan": rng.choice(("free", "pro", "team")),
            "path": page,
            "duration_ms": rng.randrange(20, 4000),
            "experiment": "checkout-v2",
            "variant": rng.choice("ab"),
        },
        "user": {"id": f"user-{user}", "email": f"user{user}@example.com"},
        "session_id": f"s-{rng.randrange(20000)}",
        "context": {
            "url": f"https://shop.example.com{page}",
            "referrer": "https://www.google.com/",
            "user_agent": rng.choice(USER_AGENTS),
            "locale": "en-US",
            "screen": "1920x1080",
            "timezone": "Europe/Berlin",
            "title": "Example Shop",
        },
        "release": "web@2.14.0",
        "environment": "production",
        "sdk": {"name": "logsight.js", "version": "0.3.1"},
    }
    if marker is None and rng.random() < 0.1:
        event["type"] = "error"
        event["name"] = None
        del event["name"]
        event["message"] = f"Cannot read properties of undefined (reading 'id{rng.randrange(9)}')"
        event["error"] = {
            "type": "TypeError",
            "value": event["message"],
            "stacktrace": {
                "frames": [
                    {
                        "filename": f"https://shop.example.com/assets/app.{n}.js",
                        "function": f"handler{n}",
                        "module": f"app/module{n}",
                        "lineno": 100 + n,
                        "colno": 12,
                        "in_app": n < 3,
                    }
                    for n in range(5)
                ]
            },
        }
    return event


def request_body(events: list[dict[str, Any]]) -> bytes:
    if len(events) == 1:
        return orjson.dumps(events[0])
    return orjson.dumps({"events": events})


def message_body(
    project_id: UUID, raw_events: list[dict[str, Any]], received_at: datetime | None = None
) -> bytes:
    """Exactly what ingest publishes for one request carrying ``raw_events``."""
    received = received_at or datetime.now(UTC)
    normalized = [normalize_event(e, received_at=received, limits=LIMITS) for e in raw_events]
    return EventMessage(project_id, received, str(uuid.uuid4()), normalized).encode()
