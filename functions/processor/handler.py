"""Processor function: an Amazon MQ (aws:rmq) batch → events in PostgreSQL/TimescaleDB.

Raises only for infrastructure faults, and only once waiting them out would outlast the
invocation (the whole batch then comes back, harmlessly); records that can never be processed
become dead letters.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from logsight.config import get_settings
from logsight.processing.app import build_batch_processor
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage.faults import time_left_of

logger = Logger(service="processor")
_processor: BatchProcessor | None = None


def handler(event: dict[str, Any], context: LambdaContext | None) -> dict[str, Any]:
    global _processor  # noqa: PLW0603 - one processor per execution environment, by design
    if _processor is None:
        _processor = build_batch_processor(get_settings())
    outcome = _processor.process(records_from_event(event), time_left_of(context))

    metrics = EphemeralMetrics(namespace="LogSight", service="processor")
    metrics.add_metric("EventsInserted", MetricUnit.Count, outcome.inserted)
    metrics.add_metric("EventsDuplicate", MetricUnit.Count, outcome.duplicates)
    metrics.add_metric("DeadLetters", MetricUnit.Count, len(outcome.dead_letters))
    metrics.flush_metrics(raise_on_empty_metrics=False)
    for letter in outcome.dead_letters:
        logger.warning("dead letter", reason=letter.reason, queue=letter.record.queue)
    return {
        "messages": outcome.messages,
        "events": outcome.events,
        "inserted": outcome.inserted,
        "dead_letters": len(outcome.dead_letters),
    }
