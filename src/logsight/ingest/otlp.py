"""``POST /v1/logs``: OpenTelemetry logs over OTLP/HTTP (protobuf or JSON, optionally compressed).

Each log record becomes one ``log`` event, normalized and published like every other event: the
same body limits (a compression bomb stops at the decompressed limit), quotas (category
``log_item``), outcomes and confirmed publish. The answers follow the OTLP specification: 200 with
an ``ExportLogsServiceResponse`` in the request's encoding (``partialSuccess`` naming the records
refused), 400 for bodies that cannot be read, 429/503 with ``Retry-After`` so exporters back off.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord

from logsight.apigw import HttpRequest, HttpResponse
from logsight.errors import ApiError
from logsight.ingest.core import IngestCore
from logsight.ingest.native import KEY_HEADER, cors_headers, preflight
from logsight.ingest.quotas import RateLimited
from logsight.schemas import NAME_MAX_CHARS
from logsight.storage.keys import IngestKey

LOGS_PATH = "/v1/logs"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
# Severity numbers in steps of four (TRACE 1-4 … FATAL 21-24) → LogSight levels.
_LEVELS = ("debug", "debug", "info", "warning", "error", "fatal")
_ID_FIELDS = {"traceId": 16, "spanId": 8}
# The OpenTelemetry JS exporter in a browser sends either key header.
_CORS_ALLOW_HEADERS = "content-type, content-encoding, x-logsight-key, authorization"


def any_value(value: AnyValue) -> Any:
    """An OTLP ``AnyValue`` as plain JSON-able Python."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind) if kind is not None else None


def attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: any_value(pair.value) for pair in pairs if isinstance(pair, KeyValue)}


def level(severity_number: int, severity_text: str) -> str:
    if 1 <= severity_number <= 24:
        return _LEVELS[(severity_number - 1) // 4]
    # Unspecified number: the text may still name a level ("WARN", "error"); normalization
    # resolves the aliases and refuses what is not a level, so only pass known words on.
    text = severity_text.strip().lower()
    return (
        text if text in {"debug", "trace", "info", "warn", "warning", "error", "fatal"} else "info"
    )


def log_event(record: LogRecord, resource: dict[str, Any], scope: dict[str, Any]) -> dict[str, Any]:
    """One OTLP log record → one raw LogSight ``log`` event (normalized afterwards)."""
    body = any_value(record.body) if record.HasField("body") else None
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    otel: dict[str, Any] = {
        "resource": resource,
        "scope": scope,
        "severity_number": record.severity_number,
        "severity_text": record.severity_text or None,
        "observed_time_unix_nano": record.observed_time_unix_nano or None,
        "time_unix_nano": record.time_unix_nano or None,
        "flags": record.flags or None,
        "event_name": record.event_name or None,
    }
    if body is not None and not isinstance(body, str):
        otel["body"] = body
    context: dict[str, Any] = {"otel": {k: v for k, v in otel.items() if v is not None}}
    if record.trace_id:
        context["trace"] = {"trace_id": record.trace_id.hex()}
        if record.span_id:
            context["trace"]["span_id"] = record.span_id.hex()
    service = resource.get("service.name")
    environment = resource.get(
        "deployment.environment.name", resource.get("deployment.environment")
    )
    release = resource.get("service.version")
    event: dict[str, Any] = {
        "type": "log",
        "name": str(scope.get("name") or service or "log")[:NAME_MAX_CHARS],
        "level": level(record.severity_number, record.severity_text),
        "message": body if isinstance(body, str) else orjson.dumps(body).decode() if body else None,
        # Epoch milliseconds; the exact nanoseconds stay in the context.
        "timestamp": nanos // 1_000_000 if nanos else None,
        "environment": str(environment) if environment is not None else None,
        "release": str(release) if release is not None else None,
        "properties": {**attributes(record.attributes), "service.name": service},
        "context": context,
    }
    return {k: v for k, v in event.items() if v is not None}


def _hex_ids_to_base64(document: Any) -> None:
    """OTLP/JSON writes trace and span ids as hex, protobuf's JSON mapping expects base64."""
    if not isinstance(document, dict):
        return
    for resource_logs in _list(document.get("resourceLogs")):
        for scope_logs in _list(_dict(resource_logs).get("scopeLogs")):
            for record in _list(_dict(scope_logs).get("logRecords")):
                if not isinstance(record, dict):
                    continue
                for name, size in _ID_FIELDS.items():
                    value = record.get(name)
                    if value in (None, ""):
                        record.pop(name, None)
                        continue
                    try:
                        raw = bytes.fromhex(value) if isinstance(value, str) else b""
                    except ValueError:
                        raw = b""
                    if len(raw) != size:
                        raise ApiError(
                            400, "invalid_field", f"{name} must be {size * 2} hex digits", name
                        )
                    record[name] = base64.b64encode(raw).decode("ascii")


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class OtlpLogsIngest:
    """``POST /v1/logs``."""

    def __init__(self, core: IngestCore) -> None:
        self.core = core

    def handle(self, request: HttpRequest, *, time_left: float | None) -> HttpResponse:
        origin = request.header("origin")
        if request.method == "OPTIONS":
            return preflight(origin, _CORS_ALLOW_HEADERS)
        response = self._handle(request, time_left)
        if origin is not None and response.status != 403:
            response.headers.update(cors_headers(origin))
        return response

    def _handle(self, request: HttpRequest, time_left: float | None) -> HttpResponse:
        try:
            if request.method != "POST":
                raise ApiError(
                    405,
                    "method_not_allowed",
                    "use POST",
                    "method",
                    headers=(("allow", "POST, OPTIONS"),),
                )
            content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
            if content_type not in (PROTOBUF, JSON):
                raise ApiError(
                    415,
                    "unsupported_media_type",
                    f"send {PROTOBUF} or {JSON} (OTLP/HTTP)",
                    "content-type",
                )
            key = self._authenticate(request)
            export = self._parse(request, content_type)
            return self._ingest(request, key, export, content_type, time_left)
        except ApiError as error:
            return HttpResponse.error(error)

    def _authenticate(self, request: HttpRequest) -> IngestKey:
        public_key = request.header(KEY_HEADER)
        authorization = request.header("authorization") or ""
        scheme, _, token = authorization.partition(" ")
        if not public_key and scheme.lower() == "bearer":
            public_key = token.strip()
        if not public_key:
            raise ApiError(
                401,
                "missing_key",
                "send the project key in X-LogSight-Key or Authorization: Bearer",
                "key",
            )
        key = self.core.lookup_key(public_key)
        origin = request.header("origin")
        if not key.allows_origin(origin):
            raise ApiError(
                403, "origin_not_allowed", f"origin {origin} may not use this key", "origin"
            )
        return key

    def _parse(self, request: HttpRequest, content_type: str) -> ExportLogsServiceRequest:
        body = self.core.body(request, text=content_type == JSON)
        export = ExportLogsServiceRequest()
        if content_type == PROTOBUF:
            try:
                export.ParseFromString(body)
            except DecodeError as exc:
                raise ApiError(
                    400,
                    "invalid_protobuf",
                    f"body is not an ExportLogsServiceRequest: {exc}",
                    "body",
                ) from exc
            return export
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from exc
        if not isinstance(document, dict):
            raise ApiError(400, "invalid_json", "send an ExportLogsServiceRequest object", "body")
        _hex_ids_to_base64(document)
        try:
            json_format.ParseDict(document, export, ignore_unknown_fields=True)
        except (json_format.ParseError, binascii.Error, RecursionError) as exc:
            raise ApiError(
                400, "invalid_json", f"body is not an ExportLogsServiceRequest: {exc}", "body"
            ) from exc
        return export

    def _ingest(
        self,
        request: HttpRequest,
        key: IngestKey,
        export: ExportLogsServiceRequest,
        content_type: str,
        time_left: float | None,
    ) -> HttpResponse:
        raw_events = [
            log_event(record, resource, scope)
            for resource_logs in export.resource_logs
            for resource in [attributes(resource_logs.resource.attributes)]
            for scope_logs in resource_logs.scope_logs
            for scope in [self._scope(scope_logs.scope)]
            for record in scope_logs.log_records
        ]
        limit = self.core.settings.max_events_per_request
        if len(raw_events) > limit:
            raise ApiError(
                413,
                "too_many_events",
                f"{len(raw_events)} log records, the limit is {limit}",
                "logRecords",
            )
        if not raw_events:
            return self._answer(content_type, ExportLogsServiceResponse())
        try:
            self.core.admit(request, key, {"log_item": len(raw_events)})
        except RateLimited as limited:
            raise ApiError(
                429,
                "rate_limited",
                str(limited),
                headers=(("retry-after", str(limited.retry_after)),),
                extra=(("quota", limited.quota.value), ("retry_after", limited.retry_after)),
            ) from limited
        accepted, rejected = self.core.normalize(request, raw_events)
        outcomes: dict[str, int] = {}
        for rejection in rejected:
            outcomes[rejection.code] = outcomes.get(rejection.code, 0) + 1
        self.core.publish(
            request,
            key,
            accepted,
            source="otlp",
            outcomes=[
                {"outcome": "invalid", "category": "log_item", "reason": code, "quantity": n}
                for code, n in sorted(outcomes.items())
            ],
            time_left=time_left,
        )
        answer = ExportLogsServiceResponse()
        if rejected:
            first = rejected[0]
            answer.partial_success.rejected_log_records = len(rejected)
            answer.partial_success.error_message = (
                f"{len(rejected)} log record(s) refused; first: record {first.index}"
                f" ({first.field or 'record'}): {first.message}"
            )
        response = self._answer(content_type, answer)
        response.accepted_events, response.rejected_events = len(accepted), len(rejected)
        return response

    @staticmethod
    def _scope(scope: Any) -> dict[str, Any]:
        described = {
            "name": scope.name or None,
            "version": scope.version or None,
            "attributes": attributes(scope.attributes) or None,
        }
        return {k: v for k, v in described.items() if v is not None}

    @staticmethod
    def _answer(content_type: str, answer: ExportLogsServiceResponse) -> HttpResponse:
        if content_type == PROTOBUF:
            return HttpResponse(200, answer.SerializeToString(), {"content-type": PROTOBUF})
        return HttpResponse(200, json_format.MessageToDict(answer), {"content-type": JSON})
