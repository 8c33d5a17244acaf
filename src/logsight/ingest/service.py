"""The ingest function's logic: request → validated events → one confirmed message → response.

``IngestCore`` holds what every protocol shares (keys, body decoding, normalization, the
confirmed publish); ``NativeIngest`` speaks LogSight's own ``POST /v1/events`` and
``logsight.sentry.service.SentryIngest`` the Sentry protocol. ``IngestService`` routes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import psycopg

from logsight.apigw import HttpRequest, HttpResponse
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.ingest.body import check_utf8, decode_body
from logsight.ingest.normalize import EventRejection, Limits, normalize_batch
from logsight.ingest.quotas import Quotas, RateLimited
from logsight.queue.message import SCHEMA_HEADER, SCHEMA_VERSION, EventMessage
from logsight.queue.publisher import Publisher, PublishError
from logsight.queue.topology import routing_key, shard_for
from logsight.storage.keys import IngestKey, KeyStore

log = logging.getLogger(__name__)

EVENTS_PATH = "/v1/events"
KEY_HEADER = "x-logsight-key"
# DSNs may carry a path prefix (https://key@host/prefix/42): keep whatever precedes /api/.
SENTRY_ROUTE = re.compile(r"^(?:/.*)?/api/(?P<project>[^/]+)/(?P<endpoint>envelope|store)/?$")
_JSON_TYPES = ("application/json", "text/plain", "")
_CORS_ALLOW_HEADERS = "content-type, content-encoding, x-logsight-key"
_CORS_EXPOSE_HEADERS = "retry-after"


class IngestCore:
    """The steps every ingest protocol shares."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyStore,
        publisher_for: Callable[[], Publisher],
        quotas: Quotas | None = None,
    ) -> None:
        self.settings = settings
        self._keys = keys
        self._publisher_for = publisher_for
        self._quotas = quotas
        self.limits = Limits(
            max_event_bytes=settings.max_event_bytes,
            max_json_depth=settings.max_json_depth,
            max_properties=settings.max_properties,
            max_string_bytes=settings.max_string_bytes,
            max_past=timedelta(seconds=settings.max_past_seconds),
            max_future=timedelta(seconds=settings.max_future_seconds),
        )

    def unavailable(self, message: str) -> ApiError:
        retry = str(self.settings.retry_after_seconds)
        return ApiError(503, "unavailable", message, headers=(("retry-after", retry),))

    def lookup_key(self, public_key: str) -> IngestKey:
        try:
            key = self._keys.lookup(public_key)
        except psycopg.Error as exc:
            log.warning("key lookup failed: %s", exc)
            raise self.unavailable("cannot verify the key right now") from exc
        if key is None:
            raise ApiError(401, "invalid_key", "unknown ingest key", "key")
        if key.revoked:
            raise ApiError(401, "revoked_key", "this ingest key has been revoked", "key")
        return key

    def admit(self, request: HttpRequest, key: IngestKey, quantities: dict[str, int]) -> None:
        """Count the request's events (by data category) against the key's quotas, before the
        costly part (normalization, publishing); RateLimited when a quota is used up."""
        if self._quotas is not None:
            self._quotas.check(key, quantities, received_at=request.received_at)

    def body(self, request: HttpRequest) -> bytes:
        """The decoded body, within the limits, checked for UTF-8."""
        body = decode_body(
            request.body,
            request.header("content-encoding"),
            max_body=self.settings.max_body_bytes,
            max_decompressed=self.settings.max_decompressed_bytes,
        )
        check_utf8(body)
        return body

    def normalize(
        self, request: HttpRequest, raw_events: list[Any]
    ) -> tuple[list[dict[str, Any]], list[EventRejection]]:
        accepted, rejected = normalize_batch(
            raw_events, received_at=request.received_at, limits=self.limits
        )
        if request.header("origin") is not None:
            user_agent = request.header("user-agent")
            for event in accepted:
                # Browsers send their own user agent; fill it in when the client did not.
                context = event["context"] or {}
                if user_agent and "user_agent" not in context:
                    event["context"] = {**context, "user_agent": user_agent}
        return accepted, rejected

    def publish(
        self,
        request: HttpRequest,
        key: IngestKey,
        events: list[dict[str, Any]],
        *,
        source: str,
        outcomes: list[dict[str, Any]] | None = None,
        time_left: float | None = None,
    ) -> None:
        """Return once the broker confirmed the message; ApiError(503) otherwise."""
        message = EventMessage(
            project_id=key.project_id,
            received_at=request.received_at,
            request_id=request.request_id,
            events=events,
            source=source,
            outcomes=outcomes or [],
        )
        shard = shard_for(key.project_id, self.settings.shards)
        timeout = self.settings.publish_timeout_seconds
        if time_left is not None:
            timeout = max(min(timeout, time_left - 0.5), 0.05)
        try:
            self._publisher_for().publish(
                message.encode(),
                routing_key=routing_key(shard),
                message_id=request.request_id or (events[0]["event_id"] if events else "empty"),
                headers={SCHEMA_HEADER: SCHEMA_VERSION, "x-logsight-project": str(key.project_id)},
                timeout=timeout,
            )
        except PublishError as exc:
            log.warning("publish failed: %s", exc)
            raise self.unavailable("events could not be queued; retry later") from exc


class NativeIngest:
    """``POST /v1/events``: LogSight's own JSON."""

    def __init__(self, core: IngestCore) -> None:
        self.core = core

    def handle(self, request: HttpRequest, *, time_left: float | None) -> HttpResponse:
        origin = request.header("origin")
        try:
            if request.method == "OPTIONS":
                return self._preflight(origin)
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
            response.headers.update(self._cors_headers(origin))
        return response

    def _preflight(self, origin: str | None) -> HttpResponse:
        headers = {
            "access-control-allow-methods": "POST, OPTIONS",
            "access-control-allow-headers": _CORS_ALLOW_HEADERS,
            "access-control-max-age": "86400",
        }
        if origin is not None:
            headers.update(self._cors_headers(origin))
        return HttpResponse(204, None, headers)

    @staticmethod
    def _cors_headers(origin: str) -> dict[str, str]:
        # Echo the origin (not "*") so per-key origin rules mean something; Vary keeps caches
        # from serving one origin's answer to another.
        return {
            "access-control-allow-origin": origin,
            "access-control-expose-headers": _CORS_EXPOSE_HEADERS,
            "vary": "Origin",
        }

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


class IngestService:
    """Routes a request to the protocol it speaks."""

    def __init__(
        self,
        settings: Settings,
        keys: KeyStore,
        publisher_for: Callable[[], Publisher],
        quotas: Quotas | None = None,
    ) -> None:
        from logsight.sentry.service import SentryIngest

        self.core = IngestCore(settings, keys, publisher_for, quotas)
        self._native = NativeIngest(self.core)
        self._sentry = SentryIngest(self.core)

    def handle(self, request: HttpRequest, *, time_left: float | None = None) -> HttpResponse:
        route = SENTRY_ROUTE.match(request.path)
        if route is not None:
            return self._sentry.handle(
                request, route["project"], route["endpoint"], time_left=time_left
            )
        return self._native.handle(request, time_left=time_left)
