"""The local stand-in for EventBridge schedules: it invokes the scheduled function by rule."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from logsight.local.context import LocalContext
from logsight.local.functions import ALERTS
from logsight.local.payloads import scheduled_event

log = logging.getLogger(__name__)

ALERTS_RULE = "logsight-alerts"
MAINTENANCE_RULE = "logsight-maintenance"


@dataclass
class Schedule:
    rule: str
    every_seconds: float
    next_run: float = 0.0


def run_scheduler(schedules: list[Schedule], stop: threading.Event) -> None:
    handler = ALERTS.load()
    while not stop.is_set():
        now = time.monotonic()
        for schedule in schedules:
            if now < schedule.next_run:
                continue
            schedule.next_run = now + schedule.every_seconds
            try:
                handler(
                    scheduled_event(schedule.rule),
                    LocalContext(ALERTS.name, ALERTS.timeout_seconds),
                )
            except Exception:
                log.exception("scheduled run of %s failed", schedule.rule)
        stop.wait(max(min(s.next_run for s in schedules) - time.monotonic(), 0.1))
