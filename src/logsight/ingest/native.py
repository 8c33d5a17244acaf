"""``POST /v1/events``: LogSight's own protocol (JSON events from the browser snippet and plain
HTTP), with CORS for browsers and per-key allowed origins."""

from __future__ import annotations

from typing import Any

import orjson

from logsight.apigw import HttpRequest, HttpResponse
from logsight.errors import ApiError
from logsight.ingest.core import IngestCore
from logsight.ingest.quotas import RateLimited
from logsight.storage.keys import IngestKey

EVENTS_PATH = "/v1/events"
KEY_HEADER = "x-logsight-key"
_JSON_TYPES = ("application/json", "text/plain", "")
_CORS_ALLOW_HEADERS = "content-type, content-encoding, x-logsight-key"
_CORS_EXPOSE_HEADERS = "retry-after"


def preflight(origin: str | None, allow_headers: str) -> HttpResponse:
    headers = {
        "access-control-allow-methods": "POST, OPTIONS",
        "access-control-allow-headers": allow_headers,
        "access-control-max-age": "86400",
    }
    if origin is not None:
        headers.update(cors_headers(origin))
    return HttpResponse(204, None, headers)


def cors_headers(origin: str) -> dict[str, str]:
    # Echo the origin (not "*") so per-key origin rules mean something; Vary keeps caches
    # from serving one origin's answer to another.
    return {
        "access-control-allow-origin": origin,
        "access-control-expose-headers": _CORS_EXPOSE_HEADERS,
        "vary": "Origin",
    }


class NativeIngest:
    """``POST /v1/events``: LogSight's own JSON."""

    def __init__(self, core: IngestCore) -> None:
        self.core = core

    def handle(self, request: HttpRequest, *, time_left: float | None) -> HttpResponse:
        origin = request.header("origin")
        try:
            if request.method == "OPTIONS":
                return preflight(origin, _CORS_ALLOW_HEADERS)
            if request.path.rstrip("/") != EVENTS_PATH:
                raise ApiError(404, "not_found", f"no route for {request.path}", "path")
            if request.method != "POST":
                raise ApiError(
                    405,
                    "method_not_allowed",
                    "use POST",
                    "method",
                    headers=(("allow", "POST, OPTIONS"),),
                )
            key = self._authenticate(request, origin)
            response = self._ingest(request, key, time_left)
        except ApiError as error:
            response = HttpResponse.error(error)
        if origin is not None and response.status != 403:
            response.headers.update(cors_headers(origin))
        return response

    def _authenticate(self, request: HttpRequest, origin: str | None) -> IngestKey:
        public_key = request.header(KEY_HEADER) or request.query.get("key")
        if not public_key:
            raise ApiError(
                401, "missing_key", "send the project key in X-LogSight-Key or ?key=", "key"
            )
        key = self.core.lookup_key(public_key)
        if not key.allows_origin(origin):
            raise ApiError(
                403, "origin_not_allowed", f"origin {origin} may not use this key", "origin"
            )
        return key

    def _parse(self, request: HttpRequest) -> list[Any]:
        content_type = (request.header("content-type") or "").split(";")[0].strip().lower()
        if content_type not in _JSON_TYPES:
            raise ApiError(
                415,
                "unsupported_media_type",
                "send application/json (or text/plain for sendBeacon)",
                "content-type",
            )
        body = self.core.body(request)
        if not body.strip():
            raise ApiError(400, "empty_body", "the body is empty", "body")
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise ApiError(400, "invalid_json", f"body is not valid JSON: {exc}", "body") from exc
        if isinstance(document, dict) and "events" in document:
            events = document["events"]
            if not isinstance(events, list):
                raise ApiError(400, "invalid_field", "events must be an array", "events")
        elif isinstance(document, list):
            events = document
        elif isinstance(document, dict):
            events = [document]
        else:
            raise ApiError(400, "invalid_json", 'send an event object or {"events": [...]}', "body")
        if not events:
            raise ApiError(400, "no_events", "events is empty", "events")
        limit = self.core.settings.max_events_per_request
        if len(events) > limit:
            raise ApiError(
                413, "too_many_events", f"{len(events)} events, the limit is {limit}", "events"
            )
        return events

    def _ingest(
        self, request: HttpRequest, key: IngestKey, time_left: float | None
    ) -> HttpResponse:
        raw_events = self._parse(request)
        try:
            self.core.admit(request, key, {"event": len(raw_events)})
        except RateLimited as limited:
            raise ApiError(
                429,
                "rate_limited",
                str(limited),
                headers=(("retry-after", str(limited.retry_after)),),
                extra=(
                    ("quota", limited.quota.value),
                    ("limit", limited.limit),
                    ("retry_after", limited.retry_after),
                ),
            ) from limited
        accepted, rejected = self.core.normalize(request, raw_events)
        errors = [r.as_dict() for r in rejected]
        if not accepted:
            first = rejected[0]
            raise ApiError(
                400,
                "invalid_events",
                f"no valid event: {first.message}",
                first.field or None,
                extra=(("errors", errors),),
            )
        self.core.publish(request, key, accepted, source="native", time_left=time_left)
        return HttpResponse(
            202,
            {
                "accepted": len(accepted),
                "rejected": len(rejected),
                "event_ids": [event["event_id"] for event in accepted],
                "errors": errors,
            },
            accepted_events=len(accepted),
            rejected_events=len(rejected),
        )
