"""Bounded ingest load for fault tests, and the check that what was acknowledged got stored.

A few client threads post small batches of events to the local gateway. Every event carries a
unique ``seq`` property; every response is recorded with its start and end time, so a test can
tell what the server answered while a fault was in force, and which event ids it acknowledged
(a 202 lists them in ``event_ids``).
"""

from __future__ import annotations

import itertools
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field

import httpx
import psycopg

CONNECTION_ERROR = "connection error"


@dataclass(frozen=True, slots=True)
class Outcome:
    started: float
    ended: float
    status: int | str  # an HTTP status, or CONNECTION_ERROR
    event_ids: tuple[str, ...] = ()
    retry_after: str | None = None


@dataclass
class LoadReport:
    outcomes: list[Outcome]

    @property
    def acknowledged(self) -> set[str]:
        return {eid for o in self.outcomes if o.status == 202 for eid in o.event_ids}

    @property
    def statuses(self) -> Counter[int | str]:
        return Counter(o.status for o in self.outcomes)

    def between(self, start: float, end: float) -> list[Outcome]:
        """Requests sent and answered entirely within [start, end]."""
        return [o for o in self.outcomes if o.started >= start and o.ended <= end]

    def first_accepted_after(self, moment: float) -> float | None:
        return min(
            (o.ended for o in self.outcomes if o.status == 202 and o.started >= moment),
            default=None,
        )


@dataclass
class Load:
    """Posts events from ``clients`` threads until stopped or ``max_requests`` is reached."""

    url: str
    key: str
    name: str = field(default_factory=lambda: f"fault-{uuid.uuid4().hex[:10]}")
    clients: int = 3
    events_per_request: int = 5
    pause: float = 0.01  # between requests of one client, so 2 cores keep up with the pipeline
    pause_after_error: float = 0.1  # a polite client backs off when told to
    max_requests: int = 4000
    outcomes: list[Outcome] = field(default_factory=list)
    _seq: itertools.count[int] = field(default_factory=itertools.count)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _accepted: int = 0

    def start(self) -> Load:
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, name=f"load-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> LoadReport:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)
        with self._lock:
            return LoadReport(sorted(self.outcomes, key=lambda o: o.started))

    @property
    def accepted_requests(self) -> int:
        with self._lock:
            return self._accepted

    def wait_for_accepted(self, requests: int, timeout: float = 60) -> float:
        """Wait until ``requests`` requests in all got a 202; returns when that happened."""
        deadline = time.monotonic() + timeout
        while self.accepted_requests < requests:
            if time.monotonic() > deadline or self._stop.is_set():
                raise TimeoutError(
                    f"only {self.accepted_requests} of {requests} requests accepted; "
                    f"statuses so far {self.report().statuses}"
                )
            time.sleep(0.02)
        return time.monotonic()

    def report(self) -> LoadReport:
        with self._lock:
            return LoadReport(list(self.outcomes))

    def _events(self) -> list[dict[str, object]]:
        with self._lock:
            seqs = [next(self._seq) for _ in range(self.events_per_request)]
        return [{"name": self.name, "properties": {"seq": seq}} for seq in seqs]

    def _client(self) -> None:
        headers = {"x-logsight-key": self.key}
        with httpx.Client(base_url=self.url, timeout=15) as client:
            while not self._stop.is_set():
                with self._lock:
                    if len(self.outcomes) >= self.max_requests:
                        return
                outcome = self._post(client, headers)
                with self._lock:
                    self.outcomes.append(outcome)
                    self._accepted += outcome.status == 202
                self._stop.wait(self.pause if outcome.status == 202 else self.pause_after_error)

    def _post(self, client: httpx.Client, headers: dict[str, str]) -> Outcome:
        started = time.monotonic()
        try:
            response = client.post("/v1/events", json={"events": self._events()}, headers=headers)
        except httpx.TransportError:
            return Outcome(started, time.monotonic(), CONNECTION_ERROR)
        ended = time.monotonic()
        ids: tuple[str, ...] = ()
        if response.status_code == 202:
            ids = tuple(response.json()["event_ids"])
        return Outcome(
            started, ended, response.status_code, ids, response.headers.get("retry-after")
        )


@dataclass(frozen=True, slots=True)
class Stored:
    rows: int
    distinct_event_ids: int
    distinct_seqs: int
    duplicated_event_ids: list[str]
    missing: set[str]
    rolled_up: int | None  # rollup total on plain PostgreSQL (None on TimescaleDB)
    dead_letters: int  # in the whole database: a test's database serves one test
    dead_letters_waiting: int  # of those, not sent back through the queue (yet)


def stored(database_url: str, project_id: str, name: str, acknowledged: set[str]) -> Stored:
    with psycopg.connect(database_url, autocommit=True, connect_timeout=5) as conn:
        counts = conn.execute(
            "SELECT event_id::text, count(*) FROM events"
            " WHERE project_id = %s AND name = %s GROUP BY event_id",
            (project_id, name),
        ).fetchall()
        row = conn.execute(
            "SELECT count(DISTINCT properties->>'seq') FROM events"
            " WHERE project_id = %s AND name = %s",
            (project_id, name),
        ).fetchone()
        dead = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE replayed_at IS NULL) FROM dead_letters"
        ).fetchone()
        mode = conn.execute("SELECT mode FROM logsight_storage").fetchone()
        rolled: int | None = None
        if mode is not None and mode[0] == "postgres":
            total = conn.execute(
                "SELECT coalesce(sum(events), 0) FROM event_rollups_1m"
                " WHERE project_id = %s AND name = %s",
                (project_id, name),
            ).fetchone()
            rolled = int(total[0]) if total else 0
    ids = {event_id for event_id, _ in counts}
    return Stored(
        rows=sum(n for _, n in counts),
        distinct_event_ids=len(ids),
        distinct_seqs=int(row[0]) if row else 0,
        duplicated_event_ids=[event_id for event_id, n in counts if n > 1],
        missing=acknowledged - ids,
        rolled_up=rolled,
        dead_letters=int(dead[0]) if dead else 0,
        dead_letters_waiting=int(dead[1]) if dead else 0,
    )


def wait_until_stored(
    database_url: str,
    project_id: str,
    name: str,
    acknowledged: set[str],
    timeout: float = 120,
    *,
    redriven: bool = False,
) -> tuple[Stored, float]:
    """Poll until every acknowledged event is in the database; returns the last look and the
    seconds it took. Connection failures count as "not yet" (the database may be restarting).
    A dead letter ends the wait at once: whatever it held will never become an event. Unless
    ``redriven``: dead letters are then expected, and the wait goes on until every one of them
    was sent back through the queue on its own and everything is stored."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        try:
            result = stored(database_url, project_id, name, acknowledged)
        except psycopg.OperationalError:
            result = None
        if result is not None and redriven:
            if not result.missing and not result.dead_letters_waiting:
                return result, time.monotonic() - started
        elif result is not None and (not result.missing or result.dead_letters):
            return result, time.monotonic() - started
        if time.monotonic() > deadline:
            if result is None:
                raise TimeoutError(f"database unreachable for {timeout}s")
            return result, time.monotonic() - started
        time.sleep(0.5)
