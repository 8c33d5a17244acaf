"""Building API Gateway requests for the ingest handler, the way the gateway does."""

from __future__ import annotations

import gzip
from typing import Any

import orjson

from logsight.apigw import HttpRequest
from logsight.local.payloads import http_api_event


def api_request(
    body: Any = None,
    *,
    key: str | None = None,
    raw: bytes | None = None,
    method: str = "POST",
    path: str = "/v1/events",
    query: str = "",
    content_type: str | None = "application/json",
    gzipped: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    data = raw if raw is not None else (orjson.dumps(body) if body is not None else b"")
    all_headers = dict(headers or {})
    if content_type is not None:
        all_headers["content-type"] = content_type
    if key is not None:
        all_headers["x-logsight-key"] = key
    if gzipped:
        data = gzip.compress(data)
        all_headers["content-encoding"] = "gzip"
    return http_api_event(
        method=method,
        path=path,
        query_string=query,
        headers=list(all_headers.items()),
        body=data,
        source_ip="127.0.0.1",
    )


def parsed(event: dict[str, Any]) -> HttpRequest:
    return HttpRequest.from_event(event)
