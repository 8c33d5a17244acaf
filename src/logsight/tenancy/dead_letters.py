"""Sending one dead letter back through the queue at an admin's request, audited.

The republishing is the CLI's (``logsight.queue.replay.replay``): the letter goes to its
project's shard, is marked only once the broker confirmed it, and the processor's keyed writes
make a message that had partly made it insert nothing twice. Any reason may be replayed here:
a person asked for it, presumably after fixing the cause.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from logsight.config import Settings
from logsight.errors import ApiError
from logsight.queue.publisher import PublishError
from logsight.queue.replay import ReplayResult, replay
from logsight.tenancy import audit


def replay_one(
    conn: psycopg.Connection,
    settings: Settings,
    project: dict[str, Any],
    letter_id: int,
    *,
    actor: UUID,
    ip: str | None,
) -> ReplayResult:
    try:
        result = replay(conn, settings, project_id=project["id"], ids=[letter_id], all_reasons=True)
    except PublishError as exc:
        raise ApiError(
            503,
            "broker_unavailable",
            "the queue cannot be reached; try again shortly",
            headers=(("retry-after", str(settings.retry_after_seconds)),),
        ) from exc
    if result.replayed:
        audit.record(
            conn,
            "dead_letter.replayed",
            organization_id=project["organization_id"],
            actor_user_id=actor,
            target_type="dead_letter",
            target_id=letter_id,
            ip=ip,
            details={"project_id": str(project["id"])},
        )
    return result
