"""Sending dead letters back through the queue: by hand, or on a schedule after an outage.

Messages that ran out of deliveries are whole, valid messages: the processor raises (and so
spends a delivery) only for infrastructure faults, so a letter with that reason met an outage
that outlasted its deliveries. Republished to their shard they are processed like any other,
and since events are keyed by their id, a message that had partly made it before inserts
nothing twice.

``logsight dead-letters replay`` does it by hand. The scheduled function does it on its own
(:func:`redrive`) for letters that ran out of deliveries, as soon as the database answers
again, a bounded number of times with a growing pause: a message that keeps coming back is
left for a person to look at.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

import psycopg

from logsight.config import Settings
from logsight.queue.message import SCHEMA_HEADER, SCHEMA_VERSION, MessageError, decode
from logsight.queue.publisher import Publisher, PublishError
from logsight.queue.topology import routing_key, shard_for
from logsight.storage.db import Database
from logsight.storage.faults import is_transient, no_deadline

log = logging.getLogger(__name__)

DELIVERY_LIMIT_REASON = "delivery limit exceeded%"
# Letters locked, republished and marked per transaction by the scheduled re-drive.
REDRIVE_BATCH = 100
# The scheduled re-drive starts no new batch with less than this left of its invocation.
REDRIVE_MARGIN_SECONDS = 10.0

# Due for an automatic re-drive: out of deliveries, not sent back since it was (last) recorded,
# attempts left, and the pause after the previous attempt (doubling each time) over. The reason
# is spelled out (not a parameter) so that the partial index dead_letters_redrive_idx applies.
_DUE = """
SELECT id, raw, message_id FROM dead_letters
WHERE replayed_at IS NULL AND reason LIKE 'delivery limit exceeded%%'
  AND redrive_attempts < %(attempts)s
  AND (redriven_at IS NULL
       OR redriven_at + make_interval(secs => %(backoff)s * 2 ^ (redrive_attempts - 1)) <= now())
ORDER BY id
LIMIT %(batch)s
FOR UPDATE SKIP LOCKED
"""


class RedriveState(StrEnum):
    """Where a dead letter stands with the automatic re-drive."""

    SCHEDULED = "scheduled"  # ran out of deliveries: sent back once the database answers
    REDRIVEN = "redriven"  # sent back (automatically or by hand) and not failed since
    EXHAUSTED = "exhausted"  # sent back LOGSIGHT_REDRIVE_ATTEMPTS times: left for a person
    MANUAL = "manual"  # rejected for its content: only a person can tell when to replay it


def redrive_state(
    reason: str, replayed_at: object | None, attempts: int, settings: Settings
) -> RedriveState:
    if replayed_at is not None:
        return RedriveState.REDRIVEN
    if not reason.startswith(DELIVERY_LIMIT_REASON.rstrip("%")):
        return RedriveState.MANUAL
    if attempts >= settings.redrive_attempts:
        return RedriveState.EXHAUSTED
    return RedriveState.SCHEDULED


@dataclass(frozen=True, slots=True)
class ReplayResult:
    replayed: int
    skipped: int  # not a LogSight message any more (nothing to replay)


def replay(
    conn: psycopg.Connection,
    settings: Settings,
    *,
    project_id: UUID | None = None,
    ids: list[int] | None = None,
    all_reasons: bool = False,
    limit: int = 10_000,
) -> ReplayResult:
    """Republish dead letters not replayed yet: by default those that exceeded the delivery
    limit (other reasons are about the message itself and would fail again)."""
    rows = conn.execute(
        "SELECT id, raw, message_id FROM dead_letters"
        " WHERE replayed_at IS NULL"
        " AND (%(project)s::uuid IS NULL OR project_id = %(project)s)"
        " AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s))"
        " AND (%(all)s OR reason LIKE %(reason)s)"
        " ORDER BY id LIMIT %(limit)s",
        {
            "project": project_id,
            "ids": ids,
            "all": all_reasons,
            "reason": DELIVERY_LIMIT_REASON,
            "limit": limit,
        },
    ).fetchall()
    publisher = Publisher(settings)
    replayed = skipped = 0
    try:
        for letter_id, raw, message_id in rows:
            if not _republish(publisher, settings, letter_id, bytes(raw), message_id):
                skipped += 1
                continue
            # Marked only once the broker confirmed it: a crash here replays it again, harmlessly.
            conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = %s", (letter_id,))
            replayed += 1
    finally:
        publisher.close()
    return ReplayResult(replayed, skipped)


def redrive(
    conn: psycopg.Connection,
    settings: Settings,
    publisher: Publisher,
    time_left: Callable[[], float] = no_deadline,
) -> ReplayResult:
    """Republish the dead letters due for an automatic re-drive; cheap when there are none.

    Each batch is locked (overlapping runs skip each other's letters), republished, and marked
    in one transaction; a failure half-way marks nothing, so what was already republished is
    sent again next time, which the processor's idempotent writes make harmless.
    """
    replayed = skipped = 0
    if settings.redrive_attempts == 0:
        return ReplayResult(0, 0)
    while time_left() > REDRIVE_MARGIN_SECONDS:
        with conn.transaction():
            rows: Sequence[tuple[Any, ...]] = conn.execute(
                _DUE,
                {
                    "attempts": settings.redrive_attempts,
                    "backoff": settings.redrive_backoff_seconds,
                    "batch": REDRIVE_BATCH,
                },
            ).fetchall()
            if not rows:
                break
            sent = [
                letter_id
                for letter_id, raw, message_id in rows
                if _republish(publisher, settings, letter_id, bytes(raw), message_id)
            ]
            # An attempt is counted for letters that cannot be republished too, so that they
            # run out of attempts like any other.
            conn.execute(
                "UPDATE dead_letters SET redrive_attempts = redrive_attempts + 1,"
                " redriven_at = now(),"
                " replayed_at = CASE WHEN id = ANY(%(sent)s) THEN now() END"
                " WHERE id = ANY(%(ids)s)",
                {"sent": sent, "ids": [row[0] for row in rows]},
            )
        replayed += len(sent)
        skipped += len(rows) - len(sent)
        if len(rows) < REDRIVE_BATCH:
            break
    if replayed or skipped:
        log.info("re-drove %d dead letters (%d not LogSight messages)", replayed, skipped)
    return ReplayResult(replayed, skipped)


class Redriver:
    """The scheduled re-drive for the life of an execution environment: one database and one
    broker connection, kept across warm invocations."""

    def __init__(self, settings: Settings) -> None:
        if not settings.database_url:
            raise RuntimeError("LOGSIGHT_DATABASE_URL is not set")
        self._settings = settings
        self._db = Database(settings.database_url)
        self._publisher = Publisher(settings)

    def run(self, time_left: Callable[[], float] = no_deadline) -> ReplayResult | None:
        """Re-drive what is due; None when the database or the broker is not there (yet):
        the letters wait for the next run."""
        try:
            with self._db.connection() as conn:
                return redrive(conn, self._settings, self._publisher, time_left)
        except PublishError as exc:
            log.warning("dead letters not re-driven, the broker is unavailable: %s", exc)
        except psycopg.Error as exc:
            if not is_transient(exc):
                raise
            log.warning("dead letters not re-driven, the database is unavailable: %s", exc)
        return None


def _republish(
    publisher: Publisher, settings: Settings, letter_id: int, raw: bytes, message_id: str | None
) -> bool:
    """Publish a letter to its project's shard; False when it is not a LogSight message."""
    try:
        message = decode(raw)
    except MessageError:
        return False
    publisher.publish(
        raw,
        routing_key=routing_key(shard_for(message.project_id, settings.shards)),
        message_id=message_id or message.request_id,
        headers={SCHEMA_HEADER: SCHEMA_VERSION, "x-logsight-replay": letter_id},
    )
    return True
