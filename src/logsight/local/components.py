"""The processes the local runtime supervises: gateway, processor pollers, scheduler."""

from __future__ import annotations

import signal
import threading

from logsight.config import Settings
from logsight.local.functions import PROCESSOR
from logsight.local.gateway import serve
from logsight.local.poller import QueuePoller, run_pollers
from logsight.local.scheduler import ALERTS_RULE, MAINTENANCE_RULE, Schedule, run_scheduler


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def run_gateway(settings: Settings) -> None:
    from logsight.local.http_limits import ConnectionLimits

    serve(
        settings.host,
        settings.port,
        settings.gateway_workers,
        ConnectionLimits.from_settings(settings),
    )


def processor_pollers(settings: Settings) -> list[QueuePoller]:
    """One mapping per shard queue, plus one on the dead-letter queue."""
    handler = PROCESSOR.load()
    pollers = [
        QueuePoller(
            amqp_url=settings.amqp_url,
            queue=settings.shard_queue(shard),
            function=PROCESSOR,
            batch_size=settings.batch_size,
            batch_window=settings.batch_window_seconds,
            handler=handler,
        )
        for shard in range(settings.shards)
    ]
    pollers.append(
        QueuePoller(
            amqp_url=settings.amqp_url,
            queue=settings.dead_letter_queue,
            function=PROCESSOR,
            batch_size=10,
            batch_window=1.0,
            handler=handler,
        )
    )
    return pollers


def run_processor(settings: Settings) -> None:
    stop = _stop_on_signals()
    run_pollers(processor_pollers(settings), stop)


def run_scheduler_process(settings: Settings) -> None:
    stop = _stop_on_signals()
    run_scheduler(
        [
            Schedule(MAINTENANCE_RULE, settings.maintenance_interval_seconds),
            Schedule(ALERTS_RULE, settings.alerts_interval_seconds),
        ],
        stop,
    )
