"""``/api/{project}/envelope/`` and ``/api/{project}/store/``: Sentry SDKs sending to LogSight.

One envelope is read (``logsight.ingest.sentry.items``), authenticated, counted against the
quotas, normalized and published as one message.

The same rules as LogSight's own endpoint: the body is decoded within the limits, events are
normalized the same way, and 200 is answered only once the broker confirmed the message.
"""

from __future__ import annotations

import logging
from typing import Any
from uuid import UUID

from logsight.apigw import HttpRequest, HttpResponse
from logsight.errors import ApiError
from logsight.event import NormalizedEvent
from logsight.ingest.core import IngestCore
from logsight.ingest.normalize import EventRejection
from logsight.ingest.quotas import RateLimited
from logsight.ingest.sentry.auth import public_key
from logsight.ingest.sentry.envelope import Item, parse_envelope
from logsight.ingest.sentry.errors import SentryError
from logsight.ingest.sentry.items import Contents, read_items
from logsight.storage.keys import IngestKey

log = logging.getLogger(__name__)

# What Relay allows browsers to send, and what SDKs need to read back.
CORS_ALLOW_HEADERS = (
    "x-sentry-auth, x-requested-with, origin, accept, content-type, authentication, "
    "authorization, content-encoding, transfer-encoding, sentry-trace, baggage"
)
CORS_EXPOSE_HEADERS = "x-sentry-error, x-sentry-rate-limits, retry-after"
# What LogSight's quotas count, as Sentry data categories: SDKs pause exactly these when told
# (sessions, client reports and the rest keep flowing; they are not counted).
LIMITED_CATEGORIES = "default;error;log_item"


class SentryIngest:
    def __init__(self, core: IngestCore) -> None:
        self.core = core

    def handle(
        self, request: HttpRequest, project: str, endpoint: str, *, time_left: float | None
    ) -> HttpResponse:
        origin = request.header("origin")
        try:
            if request.method == "OPTIONS":
                response = HttpResponse(
                    200,
                    None,
                    {
                        "access-control-allow-methods": "POST, OPTIONS",
                        "access-control-allow-headers": CORS_ALLOW_HEADERS,
                        "access-control-max-age": "3600",
                    },
                )
            elif request.method != "POST":
                raise SentryError(405, "use POST", {"allow": "POST, OPTIONS"})
            else:
                response = self._ingest(request, project, endpoint, origin, time_left)
        except SentryError as error:
            response = error.response()
        except ApiError as error:
            response = SentryError.from_api_error(error).response()
        if origin is not None:
            response.headers.update(
                {
                    "access-control-allow-origin": origin,
                    "access-control-expose-headers": CORS_EXPOSE_HEADERS,
                    "vary": "Origin",
                }
            )
        return response

    def _ingest(
        self,
        request: HttpRequest,
        project: str,
        endpoint: str,
        origin: str | None,
        time_left: float | None,
    ) -> HttpResponse:
        items, dsn, sdk = self._read(request, endpoint)
        key = self._authenticate(request, project, origin, dsn)
        contents = read_items(items, sdk)
        try:
            self.core.admit(request, key, contents.quantities)
        except RateLimited as limited:
            raise self._rate_limited(limited) from limited
        accepted, rejected = self.core.normalize(request, contents.events)
        event_id = self._event_id(contents, accepted, rejected)
        if accepted or contents.outcomes:
            self.core.publish(
                request,
                key,
                accepted,
                source="sentry",
                outcomes=[
                    {"outcome": o, "category": c, "reason": r, "quantity": q}
                    for (o, c, r), q in sorted(contents.outcomes.items())
                ],
                time_left=time_left,
            )
        return HttpResponse(
            200,
            {"id": event_id} if event_id else {},
            accepted_events=len(accepted),
            rejected_events=len(rejected),
        )

    def _read(
        self, request: HttpRequest, endpoint: str
    ) -> tuple[list[Item], str | None, dict[str, Any] | None]:
        """The items, and the envelope header's DSN and SDK (``store`` sends one bare event)."""
        body = self.core.body(request)
        if endpoint != "envelope":
            return [Item({"type": "event"}, body)], None, None
        envelope = parse_envelope(body)
        dsn = envelope.headers.get("dsn")
        sdk = envelope.headers.get("sdk")
        return (
            envelope.items,
            dsn if isinstance(dsn, str) else None,
            sdk if isinstance(sdk, dict) else None,
        )

    def _authenticate(
        self, request: HttpRequest, project: str, origin: str | None, dsn: str | None
    ) -> IngestKey:
        key = self.core.lookup_key(public_key(request, dsn))
        if str(key.project_number) != project:
            raise SentryError(403, "the key does not belong to this project")
        if not key.allows_origin(origin):
            raise SentryError(403, f"origin {origin} may not use this key")
        return key

    @staticmethod
    def _event_id(
        contents: Contents, accepted: list[NormalizedEvent], rejected: list[EventRejection]
    ) -> str | None:
        """The event item's id, as Sentry answers it; invalid logs become outcomes, an invalid
        event item refuses the envelope."""
        event = contents.event_index
        for rejection in rejected:
            if rejection.index == event:
                field = f" ({rejection.field})" if rejection.field else ""
                raise SentryError(400, f"invalid event{field}: {rejection.message}")
            contents.outcomes[("invalid", "log_item", rejection.code)] += 1
        if event is None:
            return None
        # The event is the first accepted one: logs after it, none before it rejected.
        position = event - sum(1 for r in rejected if r.index < event)
        return UUID(accepted[position]["event_id"]).hex

    @staticmethod
    def _rate_limited(limited: RateLimited) -> SentryError:
        """429 the way Relay says it: Retry-After, and X-Sentry-Rate-Limits naming the categories,
        the scope and the quota (``secs:categories:scope:reason``)."""
        seconds = str(limited.retry_after)
        return SentryError(
            429,
            str(limited),
            {
                "retry-after": seconds,
                "x-sentry-rate-limits": (
                    f"{seconds}:{LIMITED_CATEGORIES}:{limited.quota.scope}:{limited.quota.value}"
                ),
            },
        )
