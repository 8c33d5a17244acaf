"""The Sentry protocol at the ingest function: envelopes, auth, encodings, responses."""

from __future__ import annotations

import gzip
import json
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import amqp
import brotli
import orjson
import psycopg
import pytest
import zstandard

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.ingest.sentry.envelope import parse_envelope
from logsight.ingest.sentry.errors import SentryError
from logsight.ingest.sentry.mapping import map_event
from logsight.ingest.service import IngestService
from logsight.queue.message import decode
from logsight.queue.topology import shard_for
from logsight.storage.projects import CreatedProject
from tests.conftest import drain, purge
from tests.support.ingest import api_request

PYTHON_EVENT: dict[str, Any] = {
    "event_id": "9ec79c33ec9942ab8353589fcb2e04dc",
    "timestamp": "2026-11-27T10:00:00.123456Z",
    "platform": "python",
    "level": "error",
    "logger": "shop.checkout",
    "release": "shop@1.4.2",
    "environment": "production",
    "server_name": "web-1",
    "user": {"id": 42, "email": "ada@example.com"},
    "tags": {"region": "eu", "plan": "pro"},
    "contexts": {"runtime": {"name": "CPython", "version": "3.12.1"}, "os": {"name": "Linux"}},
    "breadcrumbs": {
        "values": [{"category": "http", "message": "GET /cart", "timestamp": 1764237599.0}]
    },
    "exception": {
        "values": [
            {
                "type": "KeyError",
                "value": "'sku'",
                "module": None,
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "shop/cart.py",
                            "function": "load",
                            "lineno": 10,
                            "in_app": True,
                        }
                    ]
                },
            },
            {
                "type": "ValueError",
                "value": "cart 1234 is invalid",
                "module": "builtins",
                "mechanism": {"type": "generic", "handled": False},
                "stacktrace": {
                    "frames": [
                        {
                            "filename": "django/core/handlers.py",
                            "function": "inner",
                            "lineno": 55,
                            "in_app": False,
                        },
                        {
                            "filename": "shop/checkout.py",
                            "abs_path": "/srv/shop/checkout.py",
                            "function": "pay",
                            "module": "shop.checkout",
                            "lineno": 88,
                            "colno": 4,
                            "in_app": True,
                            "context_line": "    raise ValueError(msg)",
                            "pre_context": ["def pay(cart):"],
                            "post_context": [""],
                            "vars": {"cart": "1234", "msg": "'cart 1234 is invalid'"},
                        },
                    ]
                },
            },
        ]
    },
    "request": {
        "url": "https://shop.example/checkout",
        "method": "POST",
        "headers": {
            "User-Agent": "Mozilla/5.0 Test",
            "Cookie": "secret=1",
            "Authorization": "Bearer x",
        },
    },
    "sdk": {"name": "sentry.python", "version": "2.75.0"},
}

NODE_EVENT: dict[str, Any] = {
    "event_id": "c1a1b3e8b2d54f2a9d2c3b4a5e6f7a8b",
    "timestamp": 1764237600.5,
    "platform": "node",
    "message": {
        "formatted": "payment failed for 3 items",
        "message": "payment failed for %s items",
        "params": [3],
    },
    "level": "warning",
    "tags": [["service", "api"], ["region", "us"]],
    "breadcrumbs": [
        {"type": "default", "category": "console", "message": "retrying", "timestamp": 1764237599.5}
    ],
    "sdk": {"name": "sentry.javascript.node", "version": "11.12.0"},
}


def envelope(*items: tuple[dict[str, Any], bytes], header: dict[str, Any] | None = None) -> bytes:
    lines = [json.dumps(header or {}).encode()]
    for item_header, payload in items:
        lines.append(json.dumps(item_header).encode())
        lines.append(payload)
    return b"\n".join(lines) + b"\n"


def event_item(event: dict[str, Any], *, with_length: bool = True) -> tuple[dict[str, Any], bytes]:
    payload = orjson.dumps(event)
    header: dict[str, Any] = {"type": "event"}
    if with_length:
        header["length"] = len(payload)
    return header, payload


@pytest.fixture
def service(settings: Settings, broker: amqp.Channel) -> IngestService:
    purge(broker, settings)
    return build_ingest_service(settings)


def project_number(db: psycopg.Connection, project: CreatedProject) -> int:
    row = db.execute("SELECT number FROM projects WHERE id = %s", (project.id,)).fetchone()
    assert row is not None
    return int(row[0])


def post(
    service: IngestService,
    path: str,
    body: bytes,
    *,
    headers: dict[str, str] | None = None,
    query: str = "",
    method: str = "POST",
) -> tuple[int, dict[str, str], Any]:
    event = api_request(
        raw=body, path=path, query=query, content_type=None, headers=headers, method=method
    )
    response = service.handle(HttpRequest.from_event(event)).to_event()
    text = response["body"]
    return response["statusCode"], response["headers"], orjson.loads(text) if text else None


def auth(key: str) -> dict[str, str]:
    return {
        "x-sentry-auth": f"Sentry sentry_version=7, sentry_client=sentry.python/2.75.0, sentry_key={key}"
    }


def queued_messages(broker: amqp.Channel, settings: Settings, project: CreatedProject) -> list[Any]:
    queue = settings.shard_queue(shard_for(project.id, settings.shards))
    return [decode(bytes(m.body)) for m in drain(broker, queue)]


# -- envelope format ---------------------------------------------------------------------------


def test_items_with_and_without_length() -> None:
    data = b'{"event_id":"abc"}\n{"type":"attachment","length":6}\nhel\nlo\n{"type":"session"}\n{"started":"x"}\n'
    parsed = parse_envelope(data)
    assert parsed.headers == {"event_id": "abc"}
    assert [(i.type, i.payload) for i in parsed.items] == [
        ("attachment", b"hel\nlo"),
        ("session", b'{"started":"x"}'),
    ]
    assert parse_envelope(b"{}").items == []
    assert (
        len(parse_envelope(b'{}\n{"type":"event","length":2}\n{}').items) == 1
    )  # no final newline


@pytest.mark.parametrize(
    "data",
    [
        b"not json\n",
        b"[]\n",
        b'{}\n{"type":"event","length":100}\n{}\n',
        b"{}\n{bad header}\n{}\n",
        b'{}\n{"type":"event","length":-1}\n',
    ],
)
def test_malformed_envelopes(data: bytes) -> None:
    with pytest.raises(SentryError) as info:
        parse_envelope(data)
    assert info.value.status == 400


# -- mapping -----------------------------------------------------------------------------------


def test_python_event_mapping() -> None:
    mapped = map_event(PYTHON_EVENT)
    assert mapped["type"] == "error"
    assert mapped["name"] == "ValueError"
    assert mapped["message"] == "cart 1234 is invalid"
    assert mapped["user"] == {"id": "42", "email": "ada@example.com"}
    assert mapped["properties"] == {"region": "eu", "plan": "pro"}
    assert mapped["release"] == "shop@1.4.2"
    assert mapped["context"]["runtime"]["name"] == "CPython"
    assert mapped["context"]["url"] == "https://shop.example/checkout"
    assert mapped["context"]["user_agent"] == "Mozilla/5.0 Test"
    assert "Cookie" not in mapped["context"]["request"]["headers"]
    assert "Authorization" not in mapped["context"]["request"]["headers"]
    frames = mapped["error"]["stacktrace"]["frames"]
    assert frames[-1]["function"] == "pay"
    assert frames[-1]["vars"] == {"cart": "1234", "msg": "'cart 1234 is invalid'"}
    assert frames[-1]["context_line"] == "    raise ValueError(msg)"
    assert mapped["error"]["chain"][0]["type"] == "KeyError"
    assert mapped["breadcrumbs"][0]["message"] == "GET /cart"
    assert mapped["sdk"] == {"name": "sentry.python", "version": "2.75.0"}


def test_node_event_mapping() -> None:
    mapped = map_event(NODE_EVENT)
    # A message event is an issue at its level, as in Sentry.
    assert (mapped["type"], mapped["level"]) == ("error", "warning")
    assert mapped["message"] == "payment failed for 3 items"
    assert mapped["error"] == {"type": None, "value": "payment failed for 3 items"}
    assert mapped["timestamp"].startswith("2025-11-27T10:00:00.5")
    assert mapped["properties"] == {"service": "api", "region": "us"}
    assert mapped["breadcrumbs"] == NODE_EVENT["breadcrumbs"]


@pytest.mark.parametrize("level", ["debug", "info", "warning", "error", "fatal"])
def test_message_events_are_errors_at_any_level(level: str) -> None:
    mapped = map_event({"message": "disk full", "level": level})
    assert (mapped["type"], mapped["name"], mapped["level"]) == ("error", "disk full", level)


def test_events_without_a_level_are_at_error_and_default_fingerprints_are_dropped() -> None:
    mapped = map_event({"message": "disk full", "fingerprint": ["{{ default }}"]})
    assert (mapped["type"], mapped["name"], mapped["level"]) == ("error", "disk full", "error")
    assert "fingerprint" not in mapped
    custom = map_event({"message": "x", "fingerprint": ["db", "timeout"]})
    assert custom["fingerprint"] == ["db", "timeout"]


# -- the endpoint ------------------------------------------------------------------------------


def test_envelope_event_is_queued_and_answered_with_its_id(
    service: IngestService,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    number = project_number(db, project)
    # A recent time, so it is kept as sent (older ones would be clamped).
    sent_at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=123456)
    sentry_event = {**PYTHON_EVENT, "timestamp": sent_at.isoformat().replace("+00:00", "Z")}
    body = envelope(event_item(sentry_event), header={"event_id": PYTHON_EVENT["event_id"]})
    status, headers, reply = post(
        service, f"/api/{number}/envelope/", body, headers=auth(project.public_key)
    )
    assert status == 200, reply
    assert reply == {"id": PYTHON_EVENT["event_id"]}
    assert "retry-after" not in headers
    [message] = queued_messages(broker, settings, project)
    assert message.source == "sentry"
    [event] = message.events
    assert uuid.UUID(event["event_id"]).hex == PYTHON_EVENT["event_id"]
    assert event["type"] == "error"
    assert event["timestamp"] == sent_at.isoformat()
    assert "original_timestamp" not in event["meta"]
    assert event["error"]["stacktrace"]["frames"][-1]["function"] == "pay"
    assert event["breadcrumbs"][0]["message"] == "GET /cart"


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("br", brotli.compress),
        ("zstd", lambda b: zstandard.ZstdCompressor().compress(b)),
        ("", lambda b: b),
        ("UTF-8", lambda b: b),
    ],
)
def test_every_content_encoding(
    service: IngestService,
    project: CreatedProject,
    db: psycopg.Connection,
    encoding: str,
    compress: Any,
) -> None:
    body = compress(envelope(event_item(NODE_EVENT, with_length=False)))
    status, _, reply = post(
        service,
        f"/api/{project_number(db, project)}/envelope/",
        body,
        headers={"content-encoding": encoding, "content-type": "application/x-sentry-envelope"},
        query=f"sentry_key={project.public_key}&sentry_version=7",
    )
    assert (status, reply) == (200, {"id": NODE_EVENT["event_id"]})


def test_store_endpoint_with_a_path_prefix(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    status, _, reply = post(
        service,
        f"/sentry/api/{project_number(db, project)}/store/",
        orjson.dumps(PYTHON_EVENT),
        headers={
            "authorization": f"Sentry sentry_key={project.public_key}, sentry_version=7",
            "content-type": "application/json",
        },
    )
    assert (status, reply) == (200, {"id": PYTHON_EVENT["event_id"]})


def test_auth_from_the_envelope_dsn(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    number = project_number(db, project)
    body = envelope(
        event_item(NODE_EVENT),
        header={"dsn": f"https://{project.public_key}@logsight.example/{number}"},
    )
    assert post(service, f"/api/{number}/envelope/", body)[0] == 200


def test_auth_failures_are_403_with_x_sentry_error(
    service: IngestService,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    number = project_number(db, project)
    body = envelope(event_item(NODE_EVENT))
    status, headers, reply = post(service, f"/api/{number}/envelope/", body)
    assert status == 403
    assert headers["x-sentry-error"] == reply["detail"] == "missing authorization information"
    conflicting = post(
        service,
        f"/api/{number}/envelope/",
        body,
        headers=auth(project.public_key),
        query="sentry_key=lsk_other",
    )
    assert conflicting[0] == 403
    assert "conflicting" in conflicting[1]["x-sentry-error"]
    wrong_project = post(
        service, f"/api/{number + 100000}/envelope/", body, headers=auth(project.public_key)
    )
    assert wrong_project[0] == 403
    unknown = post(service, f"/api/{number}/envelope/", body, headers=auth("lsk_unknown"))
    assert unknown[0] == 401
    assert "x-sentry-error" in unknown[1]
    assert queued_messages(broker, settings, project) == []


def test_malformed_envelope_is_400(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    status, headers, reply = post(
        service,
        f"/api/{project_number(db, project)}/envelope/",
        b'{}\n{"type":"event","length":500}\n{}',
        headers=auth(project.public_key),
    )
    assert status == 400
    assert headers["x-sentry-error"] == reply["detail"]


def test_gzip_bomb_is_413(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), 9)
    status, headers, _ = post(
        service,
        f"/api/{project_number(db, project)}/envelope/",
        bomb,
        headers={**auth(project.public_key), "content-encoding": "gzip"},
    )
    assert status == 413
    assert "x-sentry-error" in headers


def test_unknown_and_unstored_items_are_skipped_and_counted(
    service: IngestService,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    report = {
        "timestamp": 1764237600,
        "discarded_events": [{"reason": "queue_overflow", "category": "error", "quantity": 3}],
    }
    logs = {
        "version": 2,
        "items": [
            {
                "timestamp": 1764237600.1,
                "level": "info",
                "body": "user signed in",
                "attributes": {
                    "user.id": {"value": "42", "type": "string"},
                    "sentry.release": {"value": "1.0", "type": "string"},
                },
            },
            {"timestamp": 1764237600.2, "level": "warn", "body": "slow query", "attributes": {}},
        ],
    }
    body = envelope(
        ({"type": "transaction"}, b'{"type":"transaction"}'),
        ({"type": "session"}, b"{}"),
        ({"type": "attachment", "length": 3, "filename": "a.txt"}, b"abc"),
        ({"type": "check_in"}, b"{}"),
        ({"type": "profile"}, b"{}"),
        ({"type": "something_new"}, b"{}"),
        ({"type": "client_report"}, orjson.dumps(report)),
        (
            {
                "type": "log",
                "item_count": 2,
                "content_type": "application/vnd.sentry.items.log+json",
            },
            orjson.dumps(logs),
        ),
    )
    status, _, reply = post(
        service,
        f"/api/{project_number(db, project)}/envelope/",
        body,
        headers=auth(project.public_key),
    )
    assert (status, reply) == (200, {})
    [message] = queued_messages(broker, settings, project)
    assert [(e["type"], e["level"], e["message"]) for e in message.events] == [
        ("log", "info", "user signed in"),
        ("log", "warning", "slow query"),
    ]
    assert message.events[0]["release"] == "1.0"
    assert message.events[0]["properties"] == {"user.id": "42"}
    skipped = {(o["outcome"], o["category"]): o["quantity"] for o in message.outcomes}
    assert skipped == {
        ("client_discarded", "error"): 3,
        ("skipped", "attachment"): 1,
        ("skipped", "check_in"): 1,
        ("skipped", "profile"): 1,
        ("skipped", "session"): 1,
        ("skipped", "something_new"): 1,
        ("skipped", "transaction"): 1,
    }


def test_two_events_in_one_envelope_is_400(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    body = envelope(event_item(NODE_EVENT), event_item(PYTHON_EVENT))
    assert (
        post(
            service,
            f"/api/{project_number(db, project)}/envelope/",
            body,
            headers=auth(project.public_key),
        )[0]
        == 400
    )


def test_cors_for_the_browser_sdk(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    path = f"/api/{project_number(db, project)}/envelope/"
    status, headers, _ = post(
        service,
        path,
        b"",
        method="OPTIONS",
        headers={"origin": "https://app.example", "access-control-request-method": "POST"},
    )
    assert status == 200
    assert headers["access-control-allow-origin"] == "https://app.example"
    assert "x-sentry-auth" in headers["access-control-allow-headers"]
    assert "content-encoding" in headers["access-control-allow-headers"]
    status, headers, _ = post(
        service,
        path,
        envelope(event_item(NODE_EVENT)),
        query=f"sentry_key={project.public_key}&sentry_version=7",
        headers={"origin": "https://app.example", "content-type": "text/plain;charset=UTF-8"},
    )
    assert status == 200
    assert (
        headers["access-control-expose-headers"]
        == "x-sentry-error, x-sentry-rate-limits, retry-after"
    )


def test_broker_down_is_503_never_200(
    settings: Settings, project: CreatedProject, db: psycopg.Connection
) -> None:
    down = build_ingest_service(
        settings.model_copy(update={"amqp_url": "amqp://guest:guest@127.0.0.1:1/"})
    )
    status, headers, _ = post(
        down,
        f"/api/{project_number(db, project)}/envelope/",
        envelope(event_item(NODE_EVENT)),
        headers=auth(project.public_key),
    )
    assert status == 503
    assert "retry-after" in headers
    assert "x-sentry-error" in headers
