"""API Gateway HTTP API (payload format 2.0) requests and responses."""

from __future__ import annotations

import base64
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

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
        parsed = APIGatewayProxyEventV2(event)
        context = parsed.request_context
        raw_body = parsed.body or ""
        body = base64.b64decode(raw_body) if parsed.is_base64_encoded else raw_body.encode("utf-8")
        epoch_ms = context.time_epoch or int(time.time() * 1000)
        return cls(
            method=context.http.method.upper(),
            path=parsed.raw_path or "/",
            headers={k.lower(): v for k, v in (parsed.headers or {}).items()},
            query=dict(parsed.query_string_parameters or {}),
            body=body,
            request_id=context.request_id or "",
            received_at=datetime.fromtimestamp(epoch_ms / 1000, tz=UTC),
        )

    def header(self, name: str) -> str | None:
        return self.headers.get(name)


@dataclass(slots=True)
class HttpResponse:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, error: ApiError) -> HttpResponse:
        return cls(error.status, error.body(), dict(error.headers))

    def to_event(self) -> dict[str, Any]:
        headers = dict(self.headers)
        payload = ""
        if self.body is not None:
            headers.setdefault("content-type", "application/json")
            payload = orjson.dumps(self.body).decode()
        return {
            "statusCode": self.status,
            "headers": headers,
            "body": payload,
            "isBase64Encoded": False,
        }
