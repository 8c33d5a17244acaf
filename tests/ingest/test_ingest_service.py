"""The ingest function against a real RabbitMQ and PostgreSQL: status codes, bodies, queueing."""

from __future__ import annotations

import gzip
import socket
import uuid
import zlib
from collections.abc import Iterator
from typing import Any

import amqp
import orjson
import psycopg
import pytest

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.ingest.service import IngestService
from logsight.queue.message import SCHEMA_HEADER, decode
from logsight.queue.topology import shard_for
from logsight.storage.keys import create_key, revoke_key
from logsight.storage.projects import CreatedProject, create_project
from tests.conftest import drain, purge
from tests.support.ingest import api_request


@pytest.fixture
def service(settings: Settings, broker: amqp.Channel) -> Iterator[IngestService]:
    purge(broker, settings)
    return build_ingest_service(settings)


def call(service: IngestService, event: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
    response = service.handle(HttpRequest.from_event(event)).to_event()
    body = orjson.loads(response["body"]) if response["body"] else None
    return response["statusCode"], response["headers"], body


def queued(broker: amqp.Channel, settings: Settings, project: CreatedProject) -> list[amqp.Message]:
    return drain(broker, settings.shard_queue(shard_for(project.id, settings.shards)))


def test_single_event_is_queued_once_with_its_id(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    status, _, body = call(service, api_request({"name": "signup"}, key=project.public_key))
    assert status == 202
    assert body["accepted"] == 1 and body["rejected"] == 0
    messages = queued(broker, settings, project)
    assert len(messages) == 1
    message = messages[0]
    assert message.properties["delivery_mode"] == 2
    assert message.properties["application_headers"][SCHEMA_HEADER] == 1
    decoded = decode(bytes(message.body))
    assert decoded.project_id == project.id
    assert [e["event_id"] for e in decoded.events] == body["event_ids"]


def test_batch_is_one_message_and_invalid_events_are_reported_by_index(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    events = [{"name": f"e{i}"} for i in range(5)] + [
        {"type": "event"},
        {"name": "x", "level": "loud"},
    ]
    status, _, body = call(service, api_request({"events": events}, key=project.public_key))
    assert status == 202
    assert (body["accepted"], body["rejected"]) == (5, 2)
    assert [(e["index"], e["code"], e["field"]) for e in body["errors"]] == [
        (5, "missing_field", "name"),
        (6, "invalid_field", "level"),
    ]
    messages = queued(broker, settings, project)
    assert len(messages) == 1
    assert len(decode(bytes(messages[0].body)).events) == 5


def test_no_valid_event_is_400_with_every_error(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    status, _, body = call(
        service, api_request({"events": [{"type": "event"}, 7]}, key=project.public_key)
    )
    assert status == 400
    assert body["error"]["code"] == "invalid_events"
    assert body["error"]["field"] == "name"
    assert len(body["errors"]) == 2
    assert queued(broker, settings, project) == []


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        (b"", "empty_body", "body"),
        (b"{not json", "invalid_json", "body"),
        (b"42", "invalid_json", "body"),
        (b'{"events": {}}', "invalid_field", "events"),
        (b'{"events": []}', "no_events", "events"),
        (b'"\xff\xfe"', "invalid_utf8", "body"),
    ],
)
def test_malformed_bodies_are_400_naming_the_field(
    service: IngestService, project: CreatedProject, payload: bytes, code: str, field: str
) -> None:
    status, _, body = call(service, api_request(raw=payload, key=project.public_key))
    assert status == 400
    assert body["error"] == {"code": code, "field": field, "message": body["error"]["message"]}


def test_missing_unknown_and_revoked_keys_are_401(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    assert call(service, api_request({"name": "x"}))[2]["error"]["code"] == "missing_key"
    status, _, body = call(service, api_request({"name": "x"}, key="lsk_nope"))
    assert (status, body["error"]["code"], body["error"]["field"]) == (401, "invalid_key", "key")
    key = create_key(db, project.id)
    assert call(service, api_request({"name": "x"}, key=key))[0] == 202
    revoke_key(db, key)
    status, _, body = call(service, api_request({"name": "x"}, key=key))
    assert (status, body["error"]["code"]) == (401, "revoked_key")


def test_key_in_query_with_text_plain_as_sendbeacon_sends(
    service: IngestService, project: CreatedProject
) -> None:
    event = api_request(
        {"events": [{"name": "leave"}]},
        query=f"key={project.public_key}",
        content_type="text/plain;charset=UTF-8",
    )
    assert call(service, event)[0] == 202


def test_gzip_body_is_accepted(service: IngestService, project: CreatedProject) -> None:
    event = api_request({"events": [{"name": "a"}] * 10}, key=project.public_key, gzipped=True)
    assert event["isBase64Encoded"] is True
    status, _, body = call(service, event)
    assert (status, body["accepted"]) == (202, 10)


def test_unsupported_content_type_and_encoding_are_415(
    service: IngestService, project: CreatedProject
) -> None:
    status, _, body = call(
        service,
        api_request(
            {"name": "x"}, key=project.public_key, content_type="application/x-www-form-urlencoded"
        ),
    )
    assert (status, body["error"]["field"]) == (415, "content-type")
    status, _, body = call(
        service,
        api_request(
            {"name": "x"}, key=project.public_key, headers={"content-encoding": "compress"}
        ),
    )
    assert (status, body["error"]["field"]) == (415, "content-encoding")


def test_body_over_the_compressed_limit_is_413(
    service: IngestService, project: CreatedProject
) -> None:
    raw = orjson.dumps({"name": "x", "message": "y" * (1024 * 1024)})
    status, _, body = call(service, api_request(raw=raw, key=project.public_key))
    assert (status, body["error"]["code"]) == (413, "payload_too_large")


def test_gzip_bomb_is_413_without_inflating_it(
    service: IngestService, project: CreatedProject
) -> None:
    # 1 GiB of zeros compresses to about 1 MiB; keep under the compressed limit with 512 MiB.
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = b"\0" * (1024 * 1024)
    bomb = b"".join(compressor.compress(chunk) for _ in range(512)) + compressor.flush()
    assert len(bomb) < 1024 * 1024
    status, _, body = call(
        service, api_request(raw=bomb, key=project.public_key, headers={"content-encoding": "gzip"})
    )
    assert (status, body["error"]["code"]) == (413, "payload_too_large")
    assert "decompressed" in body["error"]["message"]


def test_truncated_gzip_is_400(service: IngestService, project: CreatedProject) -> None:
    data = gzip.compress(b'{"name": "x"}')[:-6]
    status, _, body = call(
        service, api_request(raw=data, key=project.public_key, headers={"content-encoding": "gzip"})
    )
    assert (status, body["error"]["code"]) == (400, "invalid_encoding")


def test_more_than_1000_events_is_413(service: IngestService, project: CreatedProject) -> None:
    status, _, body = call(
        service, api_request({"events": [{"name": "x"}] * 1001}, key=project.public_key)
    )
    assert (status, body["error"]["code"], body["error"]["field"]) == (
        413,
        "too_many_events",
        "events",
    )
    assert (
        call(service, api_request({"events": [{"name": "x"}] * 1000}, key=project.public_key))[0]
        == 202
    )


def test_routes_and_methods(service: IngestService, project: CreatedProject) -> None:
    assert (
        call(service, api_request({"name": "x"}, key=project.public_key, path="/v1/nope"))[0] == 404
    )
    status, headers, _ = call(service, api_request(key=project.public_key, method="GET"))
    assert status == 405 and "POST" in headers["allow"]


def test_cors_preflight_and_response_headers(
    service: IngestService, project: CreatedProject
) -> None:
    origin = "https://shop.example"
    status, headers, _ = call(
        service,
        api_request(
            method="OPTIONS",
            content_type=None,
            headers={
                "origin": origin,
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type,x-logsight-key",
            },
        ),
    )
    assert status == 204
    assert headers["access-control-allow-origin"] == origin
    assert "POST" in headers["access-control-allow-methods"]
    assert "x-logsight-key" in headers["access-control-allow-headers"]
    status, headers, _ = call(
        service, api_request({"name": "x"}, key=project.public_key, headers={"origin": origin})
    )
    assert status == 202
    assert headers["access-control-allow-origin"] == origin
    assert headers["vary"] == "Origin"


def test_allowed_origins_per_key(
    service: IngestService, project: CreatedProject, db: psycopg.Connection
) -> None:
    key = create_key(db, project.id, allowed_origins=["https://shop.example/"])
    allowed = api_request({"name": "x"}, key=key, headers={"origin": "https://shop.example"})
    assert call(service, allowed)[0] == 202
    status, headers, body = call(
        service, api_request({"name": "x"}, key=key, headers={"origin": "https://evil.example"})
    )
    assert (status, body["error"]["code"]) == (403, "origin_not_allowed")
    assert "access-control-allow-origin" not in headers
    # Server-side senders carry no Origin and are not subject to browser rules.
    assert call(service, api_request({"name": "x"}, key=key))[0] == 202


def test_browser_user_agent_fills_the_context(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    call(
        service,
        api_request(
            {"name": "x"},
            key=project.public_key,
            headers={"origin": "https://a.example", "user-agent": "Mozilla/5.0 Test"},
        ),
    )
    event = decode(bytes(queued(broker, settings, project)[0].body)).events[0]
    assert event["context"]["user_agent"] == "Mozilla/5.0 Test"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_broker_unreachable_is_503_with_retry_after(
    settings: Settings, project: CreatedProject
) -> None:
    down = settings.model_copy(
        update={"amqp_url": f"amqp://guest:guest@127.0.0.1:{_closed_port()}/"}
    )
    status, headers, body = call(
        build_ingest_service(down), api_request({"name": "x"}, key=project.public_key)
    )
    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert headers["retry-after"] == str(settings.retry_after_seconds)


def test_unroutable_message_is_503_not_202(settings: Settings, db: psycopg.Connection) -> None:
    # The exchange exists but no queue is bound for this routing key: mandatory makes it an error.
    unbound = settings.model_copy(update={"shards": 64})
    service = build_ingest_service(unbound)
    while True:
        created = create_project(db, f"unroutable {uuid.uuid4().hex[:6]}")
        if shard_for(created.id, 64) >= settings.shards:
            break
    status, headers, body = call(service, api_request({"name": "x"}, key=created.public_key))
    assert (status, body["error"]["code"]) == (503, "unavailable")
    assert "retry-after" in headers


def test_the_lambda_handler_end_to_end(
    settings: Settings,
    project: CreatedProject,
    broker: amqp.Channel,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from functions.ingest import handler as ingest
    from logsight.config import get_settings
    from logsight.local.context import LocalContext

    monkeypatch.setenv("LOGSIGHT_DATABASE_URL", settings.database_url or "")
    monkeypatch.setenv("LOGSIGHT_AMQP_URL", settings.amqp_url)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    get_settings.cache_clear()
    monkeypatch.setattr(ingest, "_service", None)
    purge(broker, settings)
    response = ingest.handler(
        api_request({"name": "via handler"}, key=project.public_key),
        LocalContext("logsight-ingest", 10),  # type: ignore[arg-type]
    )
    assert response["statusCode"] == 202
    assert len(queued(broker, settings, project)) == 1
    get_settings.cache_clear()
