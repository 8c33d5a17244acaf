"""Telling a database that is down or busy from a statement it rejects, and waiting out the first.

A transient fault is the infrastructure's: the server is unreachable, restarting or out of
resources, or the transaction lost a race (serialization failure, deadlock). The same work
succeeds once it passes, so it is retried. Anything else (a data or integrity error, a
programming error) would fail again the same way.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

import psycopg

log = logging.getLogger(__name__)

T = TypeVar("T")

# SQLSTATE classes: 08 connection exception, 53 insufficient resources (disk full, out of
# memory, too many connections).
_TRANSIENT_CLASSES = frozenset({"08", "53"})
_TRANSIENT_STATES = frozenset(
    {
        "40001",  # serialization_failure
        "40P01",  # deadlock_detected
        "57P01",  # admin_shutdown
        "57P02",  # crash_shutdown
        "57P03",  # cannot_connect_now (starting up, recovering)
    }
)

FIRST_RETRY_DELAY_SECONDS = 0.5
MAX_RETRY_DELAY_SECONDS = 5.0


def is_transient(exc: BaseException) -> bool:
    """True for a fault of the database or the network that retrying the same work outlives."""
    if not isinstance(exc, psycopg.Error):
        return False
    state = exc.sqlstate
    if state is None:
        # No answer from a server at all: connection refused or timed out, connection lost
        # mid-statement, a pool with no connection to give.
        return isinstance(exc, psycopg.OperationalError)
    return state[:2] in _TRANSIENT_CLASSES or state in _TRANSIENT_STATES


def skipped_while_unavailable[R](what: str, work: Callable[[], R]) -> R | None:
    """``work()``, or None when the database is down or busy: for scheduled work whose next run
    catches up, a run skipped is a line in the log, not a failure."""
    try:
        return work()
    except psycopg.Error as exc:
        if not is_transient(exc):
            raise
        log.warning("%s skipped, the database is unavailable: %s", what, exc)
        return None


def no_deadline() -> float:
    return math.inf


class _Invocation(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


def time_left_of(context: _Invocation | None) -> Callable[[], float]:
    """Seconds left of a Lambda invocation (no deadline without a context)."""
    if context is None:
        return no_deadline
    return lambda: context.get_remaining_time_in_millis() / 1000


@dataclass(frozen=True, slots=True)
class RetryWindow:
    """How long transient faults are waited out: at most ``seconds``, and never closer than
    ``margin`` seconds to the caller's own deadline (``time_left``, e.g. a Lambda function's
    remaining time), so that the last error is raised while there is still time to raise it."""

    seconds: float
    margin: float = 0.0
    time_left: Callable[[], float] = field(default=no_deadline)

    def run(self, work: Callable[[], T], what: str) -> T:
        give_up_at = time.monotonic() + self.seconds
        delay = FIRST_RETRY_DELAY_SECONDS
        while True:
            try:
                return work()
            except psycopg.Error as exc:
                if not is_transient(exc):
                    raise
                wait = min(delay, MAX_RETRY_DELAY_SECONDS)
                if time.monotonic() + wait > give_up_at or self.time_left() - wait < self.margin:
                    raise
                log.warning(
                    "%s: database unavailable (%s: %s); retrying in %.1fs",
                    what,
                    type(exc).__name__,
                    str(exc).strip().splitlines()[0] if str(exc).strip() else "",
                    wait,
                )
                time.sleep(wait)
                delay *= 2
