"""Replaying a dead letter by hand (admins): the API's counterpart of `logsight dead-letters
replay --id N`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES, ErrorResponse
from logsight.api.storable import BIGINT_MAX
from logsight.query import dead_letters as dead_letter_queries
from logsight.tenancy import dead_letters as dead_letter_writes
from logsight.tenancy.access import Role, not_found

router = APIRouter(
    prefix="/projects/{project_id}/dead-letters",
    tags=["dead letters"],
    responses=ERROR_RESPONSES
    | {503: {"model": ErrorResponse, "description": "The database or the queue is unavailable"}},
)


class ReplayPublic(BaseModel):
    id: int
    replayed: bool = Field(
        description="True: sent back to its shard queue now. False: see `detail`."
    )
    detail: str
    replayed_at: datetime | None = Field(description="When it was last sent back.")


@router.post(
    "/{dead_letter_id}/replay",
    response_model=ReplayPublic,
    summary="Send a dead letter back through the queue (admins)",
    description=(
        "Any reason may be replayed (fix the cause first: a letter rejected for its content "
        "fails again). A letter already sent back and not failed since is left alone; one that "
        "is not a LogSight message any more cannot be replayed. Audited as "
        "dead_letter.replayed."
    ),
)
def replay_dead_letter(
    project_id: UUID,
    dead_letter_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
    access: CurrentAccess,
    services: Services,
    ip: ClientIp,
) -> ReplayPublic:
    project = access.project(project_id, need=Role.ADMIN)
    before = dead_letter_queries.replayed_at(access.conn, project_id, dead_letter_id)
    if before is None:
        raise not_found("dead letter", "dead_letter_id")
    if before[0] is not None:
        return _answer(dead_letter_id, False, "already sent back and not failed since", before)
    result = dead_letter_writes.replay_one(
        access.conn, services.settings, project, dead_letter_id, actor=access.user_id, ip=ip
    )
    after = dead_letter_queries.replayed_at(access.conn, project_id, dead_letter_id)
    if result.replayed:
        return _answer(dead_letter_id, True, "sent back to its shard queue", after)
    return _answer(dead_letter_id, False, "not a LogSight message: nothing to replay", after)


def _answer(letter_id: int, replayed: bool, detail: str, row: Any) -> ReplayPublic:
    return ReplayPublic(
        id=letter_id, replayed=replayed, detail=detail, replayed_at=row[0] if row else None
    )
