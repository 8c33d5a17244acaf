"""``/api/{project}/envelope/`` and ``/api/{project}/store/``: Sentry SDKs sending to LogSight.

The same rules as LogSight's own endpoint: the body is decoded within the limits, events are
normalized the same way, and 200 is answered only once the broker confirmed the message.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any
from uuid import UUID

from logsight.apigw import HttpRequest, HttpResponse
from logsight.errors import ApiError
from logsight.ingest.quotas import RateLimited
from logsight.ingest.service import IngestCore
from logsight.sentry.auth import public_key
from logsight.sentry.envelope import Item, parse_envelope
from logsight.sentry.errors import SentryError
from logsight.sentry.mapping import map_event, map_logs

log = logging.getLogger(__name__)

# What Relay allows browsers to send, and what SDKs need to read back.
CORS_ALLOW_HEADERS = (
    "x-sentry-auth, x-requested-with, origin, accept, content-type, authentication, "
    "authorization, content-encoding, transfer-encoding, sentry-trace, baggage"
)
CORS_EXPOSE_HEADERS = "x-sentry-error, x-sentry-rate-limits, retry-after"
STORED_ITEMS = frozenset({"event", "log", "client_report"})
# What LogSight's quotas count, as Sentry data categories: SDKs pause exactly these when told
# (sessions, client reports and the rest keep flowing; they are not counted).
LIMITED_CATEGORIES = "default;error;log_item"

OutcomeKey = tuple[str, str, str]  # (outcome, category, reason)


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
        body = self.core.body(request)
        if endpoint == "envelope":
            envelope = parse_envelope(body)
            dsn = envelope.headers.get("dsn")
            items = envelope.items
            sdk = (
                envelope.headers.get("sdk")
                if isinstance(envelope.headers.get("sdk"), dict)
                else None
            )
        else:
            dsn, sdk = None, None
            items = [Item({"type": "event"}, body)]
        key = self.core.lookup_key(public_key(request, dsn if isinstance(dsn, str) else None))
        if str(key.project_number) != project:
            raise SentryError(403, "the key does not belong to this project")
        if not key.allows_origin(origin):
            raise SentryError(403, f"origin {origin} may not use this key")

        raw_events: list[dict[str, Any]] = []
        outcomes: Counter[OutcomeKey] = Counter()
        event_item_index: int | None = None
        for item in items:
            kind = item.type
            if kind == "event":
                if event_item_index is not None:
                    raise SentryError(400, "more than one event in the envelope")
                payload = item.json()
                if not isinstance(payload, dict):
                    raise SentryError(400, "invalid event item: not a JSON object")
                event_item_index = len(raw_events)
                raw_events.append(map_event(payload, sdk_header=sdk))
            elif kind == "log":
                logs = map_logs(item.json())
                raw_events.extend(logs)
            elif kind == "client_report":
                report = item.json()
                for discarded in (report or {}).get("discarded_events") or []:
                    if isinstance(discarded, dict) and isinstance(discarded.get("quantity"), int):
                        outcomes[
                            (
                                "client_discarded",
                                str(discarded.get("category") or "unknown"),
                                str(discarded.get("reason") or ""),
                            )
                        ] += max(discarded["quantity"], 0)
            else:
                # Accepted and counted, never an error: transactions, sessions, attachments, ...
                outcomes[("skipped", kind or "unknown", "")] += 1

        quantities = {
            "error": int(event_item_index is not None),
            "log_item": len(raw_events) - int(event_item_index is not None),
        }
        try:
            self.core.admit(request, key, quantities)
        except RateLimited as limited:
            raise self._rate_limited(limited) from limited
        accepted, rejected = self.core.normalize(request, raw_events)
        event_id: str | None = None
        for rejection in rejected:
            if rejection.index == event_item_index:
                field = f" ({rejection.field})" if rejection.field else ""
                raise SentryError(400, f"invalid event{field}: {rejection.message}")
            outcomes[("invalid", "log_item", rejection.code)] += 1
        if event_item_index is not None:
            # The event is the first accepted one: logs after it, none before it rejected.
            position = event_item_index - sum(1 for r in rejected if r.index < event_item_index)
            event_id = UUID(accepted[position]["event_id"]).hex
        if accepted or outcomes:
            self.core.publish(
                request,
                key,
                accepted,
                source="sentry",
                outcomes=[
                    {"outcome": o, "category": c, "reason": r, "quantity": q}
                    for (o, c, r), q in sorted(outcomes.items())
                ],
                time_left=time_left,
            )
        return HttpResponse(
            200,
            {"id": event_id} if event_id else {},
            accepted_events=len(accepted),
            rejected_events=len(rejected),
        )

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
