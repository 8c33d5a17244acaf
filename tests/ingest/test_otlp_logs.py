"""``POST /v1/logs`` (OTLP/HTTP) against a real RabbitMQ and PostgreSQL: encodings, auth, the
OTLP answers (full and partial success, 400/413/415, 429 with Retry-After) and what is queued."""

from __future__ import annotations

import base64
import gzip
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import amqp
import orjson
import psycopg
import pytest
from google.protobuf import json_format
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.event import NormalizedEvent
from logsight.ingest.app import build_ingest_service
from logsight.ingest.service import IngestService
from logsight.queue.message import decode
from logsight.queue.topology import shard_for
from logsight.storage.projects import CreatedProject
from logsight.tenancy.quotas import set_project_quotas
from tests.conftest import drain, purge
from tests.support.ingest import api_request
from tests.support.runtime import free_port

TRACE_ID = "5b8efff798038103d269b633813fc60c"
SPAN_ID = "eee19b7ec3c1b174"
# Recent: older times are clamped to the accepted past.
NOW_NANOS = int(time.time()) * 10**9


@pytest.fixture
def service(settings: Settings, broker: amqp.Channel) -> Iterator[IngestService]:
    purge(broker, settings)
    yield build_ingest_service(settings)
    purge(broker, settings)


def string(value: str) -> AnyValue:
    return AnyValue(string_value=value)


def export(*records: LogRecord) -> ExportLogsServiceRequest:
    resource = Resource(
        attributes=[
            KeyValue(key="service.name", value=string("checkout")),
            KeyValue(key="deployment.environment", value=string("production")),
            KeyValue(key="service.version", value=string("1.4.2")),
        ]
    )
    scope = ScopeLogs(log_records=list(records))
    scope.scope.name = "shop.payments"
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[scope])]
    )


def record(body: AnyValue, **fields: Any) -> LogRecord:
    return LogRecord(body=body, **fields)


def post(
    service: IngestService, data: bytes, content_type: str, **kwargs: Any
) -> tuple[int, dict[str, str], bytes]:
    event = api_request(raw=data, path="/v1/logs", content_type=content_type, **kwargs)
    raw = service.handle(HttpRequest.from_event(event)).to_event()
    body = raw["body"]
    payload = base64.b64decode(body) if raw["isBase64Encoded"] else body.encode()
    return raw["statusCode"], raw["headers"], payload


def queued(broker: amqp.Channel, settings: Settings, project: CreatedProject) -> list[Any]:
    return [
        decode(bytes(m.body))
        for m in drain(broker, settings.shard_queue(shard_for(project.id, settings.shards)))
    ]


def queued_events(
    broker: amqp.Channel, settings: Settings, project: CreatedProject
) -> list[NormalizedEvent]:
    return [event for message in queued(broker, settings, project) for event in message.events]


def test_protobuf_logs_are_queued_with_everything_they_carry(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    request = export(
        record(
            string("payment declined"),
            time_unix_nano=NOW_NANOS,
            observed_time_unix_nano=NOW_NANOS + 5,
            severity_number=17,
            severity_text="ERROR",
            trace_id=bytes.fromhex(TRACE_ID),
            span_id=bytes.fromhex(SPAN_ID),
            attributes=[KeyValue(key="order.id", value=AnyValue(int_value=42))],
        ),
        # No event time (the Python API's records): the observed time stands in.
        record(
            AnyValue(kvlist_value=KeyValueList(values=[KeyValue(key="a", value=string("b"))])),
            observed_time_unix_nano=NOW_NANOS + 10**9,
            severity_number=9,
        ),
    )
    status, headers, body = post(
        service, request.SerializeToString(), "application/x-protobuf", key=project.public_key
    )
    assert status == 200
    assert headers["content-type"] == "application/x-protobuf"
    answer = ExportLogsServiceResponse.FromString(body)
    assert not answer.HasField("partial_success")
    [message] = queued(broker, settings, project)
    assert message.source == "otlp"
    first, second = message.events
    assert (first["type"], first["level"], first["message"]) == ("log", "error", "payment declined")
    assert first["name"] == "shop.payments"
    assert (first["environment"], first["release"]) == ("production", "1.4.2")
    assert first["properties"] == {"order.id": 42, "service.name": "checkout"}
    context = first["context"] or {}
    assert context["trace"] == {"trace_id": TRACE_ID, "span_id": SPAN_ID}
    assert context["otel"]["resource"]["service.name"] == "checkout"
    assert context["otel"]["severity_text"] == "ERROR"
    assert context["otel"]["time_unix_nano"] == NOW_NANOS
    assert datetime.fromisoformat(first["timestamp"]).timestamp() == NOW_NANOS / 10**9
    assert second["level"] == "info"
    assert orjson.loads(second["message"] or "") == {"a": "b"}
    assert (second["context"] or {})["otel"]["body"] == {"a": "b"}
    assert datetime.fromisoformat(second["timestamp"]).timestamp() == NOW_NANOS / 10**9 + 1


def test_json_logs_with_hex_ids_gzip_and_a_bearer_key(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    document = {
        "resourceLogs": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "api"}}]
                },
                "scopeLogs": [
                    {
                        "logRecords": [
                            {
                                # 64-bit integers may come as strings or as numbers.
                                "timeUnixNano": str(NOW_NANOS),
                                "severityNumber": 13,
                                "severityText": "WARN",
                                "body": {"stringValue": "slow query"},
                                "traceId": TRACE_ID,
                                "spanId": SPAN_ID,
                                "attributes": [{"key": "ms", "value": {"doubleValue": 812.5}}],
                                "someFutureField": True,
                            },
                            {"observedTimeUnixNano": NOW_NANOS, "body": {"stringValue": "ok"}},
                        ]
                    }
                ],
            }
        ]
    }
    status, headers, body = post(
        service,
        orjson.dumps(document),
        "application/json",
        gzipped=True,
        headers={"authorization": f"Bearer {project.public_key}"},
    )
    assert (status, orjson.loads(body)) == (200, {})
    assert headers["content-type"] == "application/json"
    first, second = queued_events(broker, settings, project)
    assert (first["level"], first["message"]) == ("warning", "slow query")
    assert (first["context"] or {})["trace"] == {"trace_id": TRACE_ID, "span_id": SPAN_ID}
    assert first["properties"] == {"ms": 812.5, "service.name": "api"}
    assert second["message"] == "ok"


@pytest.mark.parametrize("content_type", ["application/x-protobuf", "application/json"])
def test_invalid_records_are_a_partial_success_and_counted(
    service: IngestService,
    project: CreatedProject,
    broker: amqp.Channel,
    settings: Settings,
    content_type: str,
) -> None:
    too_many = [
        KeyValue(key=f"a{n}", value=string("v")) for n in range(settings.max_properties + 1)
    ]
    request = export(
        record(string("kept"), time_unix_nano=NOW_NANOS),
        record(string("refused"), time_unix_nano=NOW_NANOS, attributes=too_many),
    )
    if content_type == "application/json":
        data = orjson.dumps(json_format.MessageToDict(request))
    else:
        data = request.SerializeToString()
    status, _, body = post(service, data, content_type, key=project.public_key)
    assert status == 200
    if content_type == "application/json":
        partial = orjson.loads(body)["partialSuccess"]
        rejected, message = int(partial["rejectedLogRecords"]), partial["errorMessage"]
    else:
        answer = ExportLogsServiceResponse.FromString(body).partial_success
        rejected, message = answer.rejected_log_records, answer.error_message
    assert rejected == 1
    assert "record 1" in message and "properties" in message
    [queued_message] = queued(broker, settings, project)
    assert [e["message"] for e in queued_message.events] == ["kept"]
    assert queued_message.outcomes == [
        {
            "outcome": "invalid",
            "category": "log_item",
            "reason": "too_many_properties",
            "quantity": 1,
        }
    ]


def gzip_bomb(size: int) -> bytes:
    return gzip.compress(b"\x00" * size)


@pytest.mark.parametrize(
    ("data", "content_type", "headers", "status", "code"),
    [
        (b"\xff\xff\xff\xff", "application/x-protobuf", {}, 400, "invalid_protobuf"),
        (b"{not json", "application/json", {}, 400, "invalid_json"),
        (b"[]", "application/json", {}, 400, "invalid_json"),
        (
            orjson.dumps({"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}),
            "application/json",
            {},
            400,
            "invalid_field",
        ),
        (b"{}", "text/plain", {}, 415, "unsupported_media_type"),
        (b"x" * (2 * 1024 * 1024), "application/x-protobuf", {}, 413, "payload_too_large"),
        (
            gzip_bomb(64 * 1024 * 1024),
            "application/x-protobuf",
            {"content-encoding": "gzip"},
            413,
            "payload_too_large",
        ),
    ],
    ids=["bad-protobuf", "bad-json", "not-an-object", "bad-trace-id", "media", "big", "bomb"],
)
def test_unreadable_bodies_are_refused_clearly_and_queue_nothing(
    service: IngestService,
    project: CreatedProject,
    broker: amqp.Channel,
    settings: Settings,
    data: bytes,
    content_type: str,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    answer = post(service, data, content_type, key=project.public_key, headers=headers)
    assert answer[0] == status, answer
    assert orjson.loads(answer[2])["error"]["code"] == code
    # The next good request still goes through whole.
    good = export(record(string("after"), time_unix_nano=NOW_NANOS))
    assert (
        post(service, good.SerializeToString(), "application/x-protobuf", key=project.public_key)[0]
        == 200
    )
    assert [e["message"] for e in queued_events(broker, settings, project)] == ["after"]


def test_a_key_is_required_and_checked(service: IngestService, broker: amqp.Channel) -> None:
    data = export(record(string("x"))).SerializeToString()
    status, _, body = post(service, data, "application/x-protobuf")
    assert (status, orjson.loads(body)["error"]["field"]) == (401, "key")
    status, _, body = post(
        service, data, "application/x-protobuf", headers={"authorization": "Bearer nope"}
    )
    assert (status, orjson.loads(body)["error"]["code"]) == (401, "invalid_key")


def test_an_empty_export_succeeds_without_queueing(
    service: IngestService, project: CreatedProject, broker: amqp.Channel, settings: Settings
) -> None:
    status, _, body = post(service, b"", "application/x-protobuf", key=project.public_key)
    assert (status, body) == (200, b"")
    assert queued(broker, settings, project) == []


def test_a_used_up_quota_answers_429_with_retry_after(
    service: IngestService,
    project: CreatedProject,
    db: psycopg.Connection,
    broker: amqp.Channel,
    settings: Settings,
) -> None:
    set_project_quotas(db, project.id, {"events_per_month": 2})
    data = export(*[record(string(f"l{n}"), time_unix_nano=NOW_NANOS) for n in range(3)])
    status, headers, body = post(
        service, data.SerializeToString(), "application/x-protobuf", key=project.public_key
    )
    assert status == 429
    assert int(headers["retry-after"]) > 0
    assert orjson.loads(body)["error"]["code"] == "rate_limited"
    assert queued_events(broker, settings, project) == []


def test_an_unreachable_broker_is_503_with_retry_after(
    settings: Settings, project: CreatedProject
) -> None:
    down = settings.model_copy(update={"amqp_url": f"amqp://guest:guest@127.0.0.1:{free_port()}/"})
    data = export(record(string("x"), time_unix_nano=NOW_NANOS)).SerializeToString()
    status, headers, body = post(
        build_ingest_service(down), data, "application/x-protobuf", key=project.public_key
    )
    assert (status, orjson.loads(body)["error"]["code"]) == (503, "unavailable")
    assert headers["retry-after"] == str(settings.retry_after_seconds)


def test_browsers_get_cors_for_either_key_header(
    service: IngestService, project: CreatedProject, broker: amqp.Channel
) -> None:
    origin = {"origin": "https://shop.example"}
    event = api_request(method="OPTIONS", path="/v1/logs", content_type=None, headers=origin)
    answer = service.handle(HttpRequest.from_event(event))
    assert answer.status == 204
    assert "authorization" in answer.headers["access-control-allow-headers"]
    assert answer.headers["access-control-allow-origin"] == "https://shop.example"
    status, headers, _ = post(
        service, b"{}", "application/json", key=project.public_key, headers=origin
    )
    assert (status, headers["access-control-allow-origin"]) == (200, "https://shop.example")
