"""Processing one batch of queue records: the processor function's whole job.

Amazon MQ mappings have no partial-batch failure, so nothing here raises for a bad record: it
goes to the dead letters and the rest is written. Only infrastructure faults raise, and since
every write is idempotent, the retried batch changes nothing that was already done.

Each raise spends one of the batch's deliveries (the queue's delivery limit), so a database that
is down, restarting or busy is first waited out here, within the invocation, for as long as the
function's time allows; only then does the batch go back to the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from uuid import UUID

import psycopg

from logsight.privacy.pipeline import event_scrubber
from logsight.processing import dead_letters
from logsight.processing.dead_letters import DeadLetter
from logsight.processing.records import QueueRecord
from logsight.processing.rows import Scrub, message_rows
from logsight.queue.message import MessageError, decode
from logsight.storage import outcomes
from logsight.storage.db import Database
from logsight.storage.faults import RetryWindow, no_deadline
from logsight.storage.mode import StorageMode, recorded_mode
from logsight.storage.outcomes import Outcome
from logsight.storage.projects import existing_projects
from logsight.storage.writer import DEFAULT_DEDUP_WINDOW, EventRow, EventWriter

log = logging.getLogger(__name__)

# Errors that one record's content can cause; anything else is the infrastructure's.
_CONTENT_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


@dataclass
class BatchOutcome:
    messages: int = 0
    events: int = 0
    inserted: int = 0
    dead_letters: list[DeadLetter] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.events - self.inserted


@dataclass(frozen=True, slots=True)
class _Decoded:
    record: QueueRecord
    project_id: UUID
    rows: list[EventRow]
    outcomes: list[Outcome]


class BatchProcessor:
    def __init__(
        self,
        db: Database,
        dead_letter_queue: str,
        *,
        dedup_window: timedelta = DEFAULT_DEDUP_WINDOW,
        retry_seconds: float = 0.0,
        retry_margin_seconds: float = 0.0,
    ) -> None:
        self._db = db
        self._dead_letter_queue = dead_letter_queue
        self._dedup_window = dedup_window
        self._retry_seconds = retry_seconds
        self._retry_margin_seconds = retry_margin_seconds
        self._writer: EventWriter | None = None

    def _writer_for(self, conn: psycopg.Connection) -> EventWriter:
        if self._writer is None:
            mode = recorded_mode(conn)
            if mode is None:
                raise RuntimeError("database is not migrated: run `logsight migrate`")
            self._writer = EventWriter(StorageMode(mode), dedup_window=self._dedup_window)
        return self._writer

    def process(
        self, records: list[QueueRecord], time_left: Callable[[], float] = no_deadline
    ) -> BatchOutcome:
        """Write the batch; ``time_left`` is the invocation's remaining time in seconds."""
        letters: list[DeadLetter] = []
        window = RetryWindow(self._retry_seconds, self._retry_margin_seconds, time_left)

        def decode() -> list[_Decoded]:
            # Decoding reads the projects' privacy rules (cached): a fault is waited out too.
            letters.clear()
            return self._decode(records, letters)

        decoded = window.run(decode, "processor")
        return window.run(lambda: self._write(len(records), decoded, letters), "processor")

    def _scrub_for(self, project_id: UUID) -> Scrub:
        with self._db.connection() as conn:
            return event_scrubber(conn, project_id)

    def _decode(self, records: list[QueueRecord], letters: list[DeadLetter]) -> list[_Decoded]:
        decoded: list[_Decoded] = []
        for record in records:
            if record.queue == self._dead_letter_queue:
                letters.append(dead_letters.from_dead_letter_queue(record))
                continue
            try:
                message = decode(record.raw)
                decoded.append(
                    _Decoded(
                        record,
                        message.project_id,
                        message_rows(message, self._scrub_for(message.project_id)),
                        outcomes.from_message(
                            message.project_id,
                            message.request_id or record.message_id or "",
                            message.received_at,
                            message.outcomes,
                        ),
                    )
                )
            except (MessageError, KeyError, ValueError, TypeError) as exc:
                letters.append(DeadLetter(record, str(exc), dead_letters.project_hint(record.raw)))
        return decoded

    def _write(
        self, messages: int, decoded: list[_Decoded], letters: list[DeadLetter]
    ) -> BatchOutcome:
        """One attempt at the whole write; a failed attempt leaves nothing behind."""
        outcome = BatchOutcome(messages=messages, dead_letters=list(letters))
        with self._db.connection() as conn:
            writer = self._writer_for(conn)
            known = existing_projects(conn, {d.project_id for d in decoded})
            valid = []
            for item in decoded:
                if item.project_id in known:
                    valid.append(item)
                else:
                    outcome.dead_letters.append(
                        DeadLetter(
                            item.record, f"unknown project {item.project_id}", item.project_id
                        )
                    )
            outcome.events = sum(len(item.rows) for item in valid)
            writer.prepare(conn, {row.timestamp.date() for item in valid for row in item.rows})
            try:
                with conn.transaction():
                    result = writer.write(conn, [row for item in valid for row in item.rows])
                    outcomes.record(conn, (o for item in valid for o in item.outcomes))
                    dead_letters.record(conn, outcome.dead_letters)
                outcome.inserted = result.inserted
            except _CONTENT_ERRORS as exc:
                log.warning("batch write failed on content (%s); isolating the bad messages", exc)
                outcome.inserted = self._write_one_by_one(conn, writer, valid, outcome)
        return outcome

    def _write_one_by_one(
        self,
        conn: psycopg.Connection,
        writer: EventWriter,
        items: list[_Decoded],
        outcome: BatchOutcome,
    ) -> int:
        inserted = 0
        with conn.transaction():
            for item in items:
                try:
                    with conn.transaction():  # a savepoint per message
                        inserted += writer.write(conn, item.rows).inserted
                        outcomes.record(conn, item.outcomes)
                except _CONTENT_ERRORS as exc:
                    outcome.events -= len(item.rows)
                    outcome.dead_letters.append(
                        DeadLetter(
                            item.record,
                            f"rejected by the database: {exc.diag.message_primary or exc}",
                            item.project_id,
                            {"sqlstate": exc.sqlstate},
                        )
                    )
            dead_letters.record(conn, outcome.dead_letters)
        return inserted
