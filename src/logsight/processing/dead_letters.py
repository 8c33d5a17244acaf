"""Recording messages that can never be processed, with their reason and raw bytes."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
import psycopg

from logsight.privacy.pipeline import scrub_dead_letter
from logsight.processing.records import QueueRecord


@dataclass(frozen=True, slots=True)
class DeadLetter:
    record: QueueRecord
    reason: str
    project_id: UUID | None = None
    details: dict[str, Any] = field(default_factory=dict)


def project_hint(raw: bytes) -> UUID | None:
    """Best effort: the project of a message we could not otherwise process."""
    try:
        data = orjson.loads(raw)
        return UUID(str(data["project_id"]))
    except (orjson.JSONDecodeError, KeyError, ValueError, TypeError):
        return None


def from_dead_letter_queue(record: QueueRecord) -> DeadLetter:
    """A message RabbitMQ gave up on (delivery limit reached) and routed to the DLQ."""
    reason = record.header_text("x-first-death-reason") or "dead-lettered"
    queue = record.header_text("x-first-death-queue")
    text = "delivery limit exceeded" if reason == "delivery_limit" else f"dead-lettered: {reason}"
    return DeadLetter(
        record=record,
        reason=f"{text} (queue {queue})" if queue else text,
        project_id=project_hint(record.raw),
        details={"death_reason": reason, "queue": queue},
    )


def record(conn: psycopg.Connection, letters: list[DeadLetter]) -> None:
    """Record the letters, their bytes scrubbed by their project's privacy rules first."""
    if not letters:
        return
    raws = [scrub_dead_letter(conn, letter.project_id, letter.record.raw) for letter in letters]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO dead_letters"
            " (digest, project_id, source, message_id, reason, raw, details)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
            # The same bytes failing again (after a replay) are news: say so, keep one row.
            " ON CONFLICT (digest) DO UPDATE SET reason = EXCLUDED.reason,"
            " details = EXCLUDED.details, replayed_at = NULL"
            " WHERE dead_letters.replayed_at IS NOT NULL",
            [
                (
                    hashlib.sha256(raw).digest(),
                    letter.project_id,
                    letter.record.queue,
                    letter.record.message_id,
                    letter.reason,
                    raw,
                    orjson.dumps(
                        {**letter.details, "redelivered": letter.record.redelivered}
                    ).decode(),
                )
                for letter, raw in zip(letters, raws, strict=True)
            ],
        )


def rewrite_raw(
    conn: psycopg.Connection, transform: Callable[[UUID | None, bytes], bytes], batch: int = 200
) -> int:
    """Pass every stored letter's bytes through ``transform`` (letters recorded before their
    bytes were scrubbed); the number changed. A letter whose new bytes equal another's is
    the same letter twice: it is deleted, the other kept."""
    last, changed = 0, 0
    while True:
        rows = conn.execute(
            "SELECT id, project_id, raw FROM dead_letters WHERE id > %s ORDER BY id LIMIT %s",
            (last, batch),
        ).fetchall()
        if not rows:
            return changed
        for letter_id, project_id, raw in rows:
            last = letter_id
            before = bytes(raw)
            after = transform(project_id, before)
            if after == before:
                continue
            digest = hashlib.sha256(after).digest()
            with conn.transaction():
                twin = conn.execute(
                    "SELECT 1 FROM dead_letters WHERE digest = %s AND id <> %s", (digest, letter_id)
                ).fetchone()
                if twin:
                    conn.execute("DELETE FROM dead_letters WHERE id = %s", (letter_id,))
                else:
                    conn.execute(
                        "UPDATE dead_letters SET raw = %s, digest = %s WHERE id = %s",
                        (after, digest, letter_id),
                    )
            changed += 1


def scrub_stored(conn: psycopg.Connection) -> int:
    """Letters recorded before their bytes were scrubbed, scrubbed now by their project's rules
    (``logsight privacy scrub-dead-letters``); the number changed."""
    return rewrite_raw(conn, lambda project_id, raw: scrub_dead_letter(conn, project_id, raw))
