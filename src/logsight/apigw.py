"""API Gateway HTTP API (payload format 2.0) requests and responses."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

from logsight.errors import ApiError


@dataclass(frozen=True, slots=True)
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    query: dict[str, str]
    body: bytes
    request_id: str
    received_at: datetime

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> HttpRequest:
        # Read directly rather than through Powertools' APIGatewayProxyEventV2: importing its
        # data_classes package loads every AWS event class, a cost paid on each ingest cold start.
        context = event.get("requestContext") or {}
        http = context.get("http") or {}
        raw_body = event.get("body") or ""
        body = (
            base64.b64decode(raw_body) if event.get("isBase64Encoded") else raw_body.encode("utf-8")
        )
        epoch_ms = context.get("timeEpoch") or int(time.time() * 1000)
        return cls(
            method=str(http.get("method", "GET")).upper(),
            path=event.get("rawPath") or http.get("path") or "/",
            headers={k.lower(): v for k, v in (event.get("headers") or {}).items()},
            query=dict(event.get("queryStringParameters") or {}),
            body=body,
            request_id=str(context.get("requestId") or ""),
            received_at=datetime.fromtimestamp(epoch_ms / 1000, tz=UTC),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    # For metrics: what the request carried, whatever the protocol's response looks like.
    accepted_events: int = 0
    rejected_events: int = 0

    @classmethod
    def error(cls, error: ApiError) -> HttpResponse:
        return cls(error.status, error.body(), dict(error.headers))

    def to_event(self) -> dict[str, Any]:
        headers = dict(self.headers)
        payload = ""
        if isinstance(self.body, bytes):
            # Binary answers (OTLP protobuf) travel base64-encoded, as payload 2.0 expects.
            headers.setdefault("content-type", "application/octet-stream")
            return {
                "statusCode": self.status,
                "headers": headers,
                "body": base64.b64encode(self.body).decode("ascii"),
                "isBase64Encoded": True,
            }
        if self.body is not None:
            headers.setdefault("content-type", "application/json")
            payload = orjson.dumps(self.body).decode()
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": payload,
            "isBase64Encoded": False,
        }
