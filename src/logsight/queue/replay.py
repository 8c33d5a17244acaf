"""Sending dead letters back through the queue, once what made them fail has been fixed.

Messages that ran out of deliveries (a long database outage, say) are whole, valid messages:
republished to their shard they are processed like any other, and since events are keyed by
their id, a message that had partly made it before inserts nothing twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

import psycopg

from logsight.config import Settings
from logsight.queue.message import SCHEMA_HEADER, SCHEMA_VERSION, MessageError, decode
from logsight.queue.publisher import Publisher
from logsight.queue.topology import routing_key, shard_for

DELIVERY_LIMIT_REASON = "delivery limit exceeded%"


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
            try:
                message = decode(bytes(raw))
            except MessageError:
                skipped += 1
                continue
            publisher.publish(
                bytes(raw),
                routing_key=routing_key(shard_for(message.project_id, settings.shards)),
                message_id=message_id or message.request_id,
                headers={SCHEMA_HEADER: SCHEMA_VERSION, "x-logsight-replay": letter_id},
            )
            # Marked only once the broker confirmed it: a crash here replays it again, harmlessly.
            conn.execute("UPDATE dead_letters SET replayed_at = now() WHERE id = %s", (letter_id,))
            replayed += 1
    finally:
        publisher.close()
    return ReplayResult(replayed, skipped)
