"""What every ingest protocol shares: the key look-up, the quotas, body decoding, normalization
and the confirmed publish. The protocols themselves are ``logsight.ingest.native`` and
``logsight.ingest.sentry``; ``logsight.ingest.service`` routes a request to one of them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import psycopg

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.event import NormalizedEvent
from logsight.ingest.body import check_utf8, decode_body
from logsight.ingest.normalize import EventRejection, Limits, normalize_batch
from logsight.ingest.quotas import Quotas
from logsight.queue.message import SCHEMA_HEADER, SCHEMA_VERSION, EventMessage
from logsight.queue.publisher import Publisher, PublishError
from logsight.queue.topology import routing_key, shard_for
from logsight.storage.keys import IngestKey, KeyStore

log = logging.getLogger(__name__)


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

    def body(self, request: HttpRequest, *, text: bool = True) -> bytes:
        """The decoded body, within the limits, checked for UTF-8 when it is ``text``."""
        body = decode_body(
            request.body,
            request.header("content-encoding"),
            max_body=self.settings.max_body_bytes,
            max_decompressed=self.settings.max_decompressed_bytes,
        )
        if text:
            check_utf8(body)
        return body

    def normalize(
        self, request: HttpRequest, raw_events: list[Any]
    ) -> tuple[list[NormalizedEvent], list[EventRejection]]:
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
        events: list[NormalizedEvent],
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
