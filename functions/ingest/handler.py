"""Ingest function: API Gateway HTTP API (payload 2.0) → validated events → RabbitMQ.

Kept lean for cold starts: no web framework, and the service (connections included) is built on
the first request, then reused while the environment stays warm.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsight.apigw import HttpRequest
from logsight.config import get_settings
from logsight.ingest.app import build_ingest_service
from logsight.ingest.service import IngestService

logger = Logger(service="ingest")
_service: IngestService | None = None


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    global _service  # noqa: PLW0603 - one service per execution environment, by design
    if _service is None:
        _service = build_ingest_service(get_settings())
    time_left = context.get_remaining_time_in_millis() / 1000 if context is not None else None
    response = _service.handle(HttpRequest.from_event(event), time_left=time_left)

    metrics = EphemeralMetrics(namespace="LogSight", service="ingest")
    if response.status >= 500:
        metrics.add_metric("QueueUnavailable", MetricUnit.Count, 1)
    elif response.status >= 400:
        metrics.add_metric("RequestsRejected", MetricUnit.Count, 1)
        logger.debug("rejected request", status=response.status, body=response.body)
    elif response.accepted_events or response.rejected_events:
        metrics.add_metric("EventsAccepted", MetricUnit.Count, response.accepted_events)
        metrics.add_metric("EventsRejected", MetricUnit.Count, response.rejected_events)
    else:
        return response.to_event()  # a preflight, or an envelope with nothing to store
    metrics.flush_metrics()
    return response.to_event()
