"""The ingest function's logic: request → validated events → one confirmed message → response.

``IngestService`` routes each request to the protocol it speaks: LogSight's own
(``logsight.ingest.native``), Sentry's (``logsight.ingest.sentry``) or OpenTelemetry's logs
(``logsight.ingest.otlp``); all are built on
``logsight.ingest.core.IngestCore``.
"""

from __future__ import annotations

import re

from logsight.apigw import HttpRequest, HttpResponse
from logsight.ingest.core import IngestCore
from logsight.ingest.native import NativeIngest
from logsight.ingest.otlp import LOGS_PATH, OtlpLogsIngest
from logsight.ingest.sentry.protocol import SentryIngest

# DSNs may carry a path prefix (https://key@host/prefix/42): keep whatever precedes /api/.
SENTRY_ROUTE = re.compile(r"^(?:/.*)?/api/(?P<project>[^/]+)/(?P<endpoint>envelope|store)/?$")


class IngestService:
    """Routes a request to the protocol it speaks."""

    def __init__(self, core: IngestCore) -> None:
        self.core = core
        self._native = NativeIngest(self.core)
        self._sentry = SentryIngest(self.core)
        self._otlp = OtlpLogsIngest(self.core)

    def handle(self, request: HttpRequest, *, time_left: float | None = None) -> HttpResponse:
        route = SENTRY_ROUTE.match(request.path)
        if route is not None:
            return self._sentry.handle(
                request, route["project"], route["endpoint"], time_left=time_left
            )
        if request.path.rstrip("/") == LOGS_PATH:
            return self._otlp.handle(request, time_left=time_left)
        return self._native.handle(request, time_left=time_left)
