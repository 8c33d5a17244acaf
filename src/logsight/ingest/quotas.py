"""Quotas at ingest: events per minute and per month for a project, events per second for a key.

The limits must hold across every ingest environment (many concurrent Lambda environments,
threads of the local gateway), so the counters are shared: fixed windows in PostgreSQL
(``quota_counters``). Asking the database on every request would make it the bottleneck, so an
environment leases a slice of a window's allowance (``logsight.storage.quotas.lease``), spends
it locally and asks again only when it runs out or the window turns. A slice is about one
second of this environment's own traffic, never more than an eighth of what is left, so the
allowance spreads over the environments that need it and shrinks towards the end of a window;
the sum of all slices never exceeds the limit, so neither do the events accepted. What a slice
leaves unspent when its window ends (or its environment disappears) is not accepted by anyone:
the limit may be under-used by about a second of traffic per environment, never exceeded.

An environment remembers what a counter had left when it last asked; a request needing more
than that is refused without a round trip, so a flood against an exhausted window costs the
database nothing until the window ends.

Refused requests publish nothing, so their counts reach ``ingest_outcomes`` from here: added up
in memory per project, minute, category and quota, and written at most once a second by the
next request. An environment that is frozen and never invoked again loses the refusals counted
since its last write (at most about a second of them).

If the database cannot be reached the quotas fail open: requests are accepted (and queued) as
if unlimited, and the database is tried again a moment later. A database outage must not turn
into refused events.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

import psycopg

from logsight.config import Settings
from logsight.storage import outcomes
from logsight.storage import quotas as store
from logsight.storage.db import Database, Outage
from logsight.storage.keys import IngestKey
from logsight.storage.outcomes import RateLimitedKey

log = logging.getLogger(__name__)

FLUSH_INTERVAL_SECONDS = 1.0
FAILING_RETRY_SECONDS = 10.0
# Bounds the memory of refused counts held while the database cannot take them.
MAX_PENDING_ROWS = 10_000


class Quota(StrEnum):
    """The limits, named as in the settings, the API and the outcomes' reason."""

    KEY_EVENTS_PER_SECOND = "key_events_per_second"
    EVENTS_PER_MINUTE = "events_per_minute"
    EVENTS_PER_MONTH = "events_per_month"

    @property
    def unit(self) -> str:
        return _UNITS[self]

    @property
    def scope(self) -> str:
        """What the limit applies to, in Sentry's terms (``X-Sentry-Rate-Limits``)."""
        return "key" if self is Quota.KEY_EVENTS_PER_SECOND else "project"


_UNITS = {
    Quota.KEY_EVENTS_PER_SECOND: "second",
    Quota.EVENTS_PER_MINUTE: "minute",
    Quota.EVENTS_PER_MONTH: "month",
}


class RateLimited(Exception):
    def __init__(self, quota: Quota, limit: int, retry_after: int, events: int) -> None:
        super().__init__(
            f"{quota.value.replace('_', ' ')} limit of {limit} reached; retry in {retry_after} s"
            if events <= limit
            else f"{events} events in one request exceed the {quota.value.replace('_', ' ')}"
            f" limit of {limit}; send smaller batches"
        )
        self.quota = quota
        self.limit = limit
        self.retry_after = retry_after
        self.events = events


def effective_limits(key: IngestKey, settings: Settings) -> dict[Quota, int]:
    """Each quota's limit for this key's project (0: unlimited)."""
    return {
        Quota.KEY_EVENTS_PER_SECOND: _pick(
            key.key_events_per_second, settings.key_events_per_second
        ),
        Quota.EVENTS_PER_MINUTE: _pick(key.events_per_minute, settings.project_events_per_minute),
        Quota.EVENTS_PER_MONTH: _pick(key.events_per_month, settings.project_events_per_month),
    }


def _pick(project_value: int | None, default: int) -> int:
    return default if project_value is None else project_value


@dataclass(slots=True)
class _Counter:
    """This environment's view of one shared counter in its current window."""

    limit: int
    window_start: datetime | None = None
    deadline: float = 0.0  # monotonic time at which the window ends
    left: int = 0  # leased by this environment and not yet spent
    remaining: int | None = None  # what the shared counter had left when last asked
    # Demand: events this environment admitted against the counter in the current and the
    # previous second; the next slice asks for about that much.
    second: int = 0
    this_second: int = 0
    last_second: int = 0

    def current(self, now: float) -> bool:
        return self.window_start is not None and now < self.deadline

    def refused(self, events: int, now: float) -> bool:
        """Known to be unable to cover ``events`` before its window ends."""
        return (
            self.current(now) and self.remaining is not None and self.left + self.remaining < events
        )

    def spend(self, events: int, now: float) -> None:
        self.left -= events
        second = int(now)
        if second != self.second:
            self.last_second = self.this_second if second == self.second + 1 else 0
            self.this_second, self.second = 0, second
        self.this_second += events

    def demand(self) -> int:
        return max(self.this_second, self.last_second)

    def new_window(self, lease: store.Lease, now: float) -> None:
        self.window_start = lease.window_start
        self.deadline = now + lease.seconds_left
        self.left = 0
        self.remaining = None


class Quotas:
    """One per process: shared by the threads that stand for execution environments locally."""

    def __init__(
        self,
        settings: Settings,
        db: Database,
        outage: Outage,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._db = db
        self._outage = outage
        self._clock = clock
        self._counters: dict[tuple[Quota, UUID], _Counter] = {}
        self._pending: Counter[RateLimitedKey] = Counter()
        self._flushed_at = clock()
        # The database answers but the quota statements fail (say, a migration missing): left
        # alone for a while too, with an error logged, rather than tried on every request.
        self._failing = Outage(FAILING_RETRY_SECONDS)
        self._lock = threading.Lock()

    def check(
        self, key: IngestKey, quantities: Mapping[str, int], *, received_at: datetime
    ) -> None:
        """Take ``sum(quantities)`` events from every quota of the key, or raise RateLimited
        (and count the refused events by category)."""
        events = sum(quantities.values())
        limits = {q: n for q, n in effective_limits(key, self._settings).items() if n > 0}
        subjects = {
            q: key.id if q is Quota.KEY_EVENTS_PER_SECOND else key.project_id for q in limits
        }
        # Twice at most: a slice leased just as another thread moved the counter to the next
        # window is void, and the next window is asked for once.
        for attempt in range(2):
            now = self._clock()
            with self._lock:
                # Any request may carry the refused counts out, limited or not.
                outgoing = self._take_pending(now)
                decision = self._decide(subjects, limits, events, now) if events > 0 else None
                if isinstance(decision, RateLimited):
                    self._count_refused(key, quantities, decision.quota, received_at)
            requests = decision if isinstance(decision, list) else []
            leases: list[store.Lease] | None = []
            if requests or outgoing:
                leases = self._talk(key.project_id, requests, outgoing)
            if isinstance(decision, RateLimited):
                raise decision
            if not requests or leases is None:
                return  # admitted from local slices, or the database is unreachable: fail open
            now = self._clock()
            # A counter the database had no row for (its project was just deleted) is not
            # enforced; the key stops being accepted within the key cache time anyway.
            leased = {lease.unit for lease in leases}
            asked = {r.unit for r in requests}
            limits = {q: n for q, n in limits.items() if q.unit in leased or q.unit not in asked}
            with self._lock:
                applied = [
                    self._merge(self._counter(q, subjects[q], limits[q], now), lease, now)
                    for lease in leases
                    for q in limits
                    if q.unit == lease.unit
                ]
                decision = self._decide(subjects, limits, events, now, ask=False)
                if decision is None:
                    return
                if all(applied) or attempt:
                    assert isinstance(decision, RateLimited)
                    self._count_refused(key, quantities, decision.quota, received_at)
                    raise decision

    # -- local state (called with the lock held) ---------------------------------------------

    def _decide(
        self,
        subjects: Mapping[Quota, UUID],
        limits: Mapping[Quota, int],
        events: int,
        now: float,
        *,
        ask: bool = True,
    ) -> RateLimited | list[store.LeaseRequest] | None:
        """Admit from the local slices (None), refuse, or say which slices to lease first."""
        counters = {q: self._counter(q, subjects[q], limits[q], now) for q in limits}
        refused = [q for q, c in counters.items() if c.refused(events, now)]
        short = [q for q, c in counters.items() if c.left < events]
        if refused or (short and not ask):
            # The longest wait is the one that matters to the client.
            quota = max(refused or short, key=lambda q: counters[q].deadline)
            wait = max(math.ceil(counters[quota].deadline - now), 1)
            return RateLimited(quota, limits[quota], wait, events)
        if short:
            # Counters about to run out too (within half a second of demand) ride along.
            return [
                store.LeaseRequest(
                    subjects[q], q.unit, limits[q], max(events - c.left, 0), c.demand()
                )
                for q, c in counters.items()
                if c.left < events + c.demand() // 2
            ]
        for counter in counters.values():
            counter.spend(events, now)
        return None

    def _counter(self, quota: Quota, subject: UUID, limit: int, now: float) -> _Counter:
        counter = self._counters.get((quota, subject))
        if counter is None or counter.limit != limit:
            # A changed limit (read with the key, so within the key cache time) invalidates
            # what this environment knew about the window.
            counter = self._counters[(quota, subject)] = _Counter(limit)
        elif counter.window_start is not None and now >= counter.deadline:
            counter.window_start, counter.left, counter.remaining = None, 0, None
        return counter

    @staticmethod
    def _merge(counter: _Counter, lease: store.Lease, now: float) -> bool:
        """Add the slice to the counter; False when it is void (an older window)."""
        if counter.window_start is None or lease.window_start > counter.window_start:
            counter.new_window(lease, now)
        elif lease.window_start < counter.window_start:
            return False  # another thread already moved on to the next window
        counter.left += lease.granted
        counter.remaining = (
            lease.remaining
            if counter.remaining is None
            else min(counter.remaining, lease.remaining)
        )
        return True

    def _count_refused(
        self, key: IngestKey, quantities: Mapping[str, int], quota: Quota, received_at: datetime
    ) -> None:
        minute = received_at.replace(second=0, microsecond=0)
        for category, quantity in quantities.items():
            if quantity > 0:
                self._add_pending(
                    RateLimitedKey(key.project_id, minute, category, quota.value), quantity
                )

    def _add_pending(self, row: RateLimitedKey, quantity: int) -> None:
        if row in self._pending or len(self._pending) < MAX_PENDING_ROWS:
            self._pending[row] += quantity

    def _take_pending(self, now: float) -> dict[RateLimitedKey, int]:
        """The refused counts to write now: all of them, once a second at most."""
        if not self._pending or now - self._flushed_at < FLUSH_INTERVAL_SECONDS:
            return {}
        pending, self._pending = dict(self._pending), Counter()
        self._flushed_at = now
        return pending

    # -- the database --------------------------------------------------------------------------

    def _talk(
        self,
        project_id: UUID,
        requests: list[store.LeaseRequest],
        refused: dict[RateLimitedKey, int],
    ) -> list[store.Lease] | None:
        """Write the refused counts and take the leases. None when the database is out.

        Two plain statements rather than a pipeline: the counts go out at most once a second,
        and a plain statement is safe on a connection other threads may share."""
        if self._outage.active() or self._failing.active():
            self._restore(refused)
            return None
        try:
            with self._db.connection() as conn:
                if refused:
                    outcomes.add_rate_limited(conn, refused)
                return store.lease(conn, project_id, requests) if requests else []
        except psycopg.OperationalError as exc:
            self._outage.record()
            log.warning("quotas not enforced, the database is unreachable: %s", exc)
            self._restore(refused)
        except psycopg.Error as exc:
            self._failing.record()
            log.error("quotas not enforced, the quota statements fail: %s", exc)
        return None

    def _restore(self, refused: Mapping[RateLimitedKey, int]) -> None:
        with self._lock:
            for row, quantity in refused.items():
                self._add_pending(row, quantity)
