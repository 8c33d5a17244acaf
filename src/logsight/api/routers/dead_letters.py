"""Dead letters of a project: messages the processor could never write, with their reason and
raw bytes, for the project's admins.

Letters whose project could not be determined (project_id NULL: undecodable bodies) belong to
no tenant, and showing them to any organization could leak another's data; they are not served
by the API for now and stay visible to operators in the database.

Lists carry a short preview; one letter carries its raw bytes (capped so a response stays well
inside Lambda's 6 MB payload limit).
"""

from __future__ import annotations

import base64
import codecs
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path
from pydantic import BaseModel, Field

from logsight.api.deps import CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import (
    DEFAULT_LIMIT,
    TIME_SERIAL,
    Limit,
    Page,
    decode_cursor,
    page,
)
from logsight.api.storable import BIGINT_MAX
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.query import dead_letters as dead_letter_queries
from logsight.queue.replay import RedriveState, redrive_state
from logsight.tenancy.access import Role

router = APIRouter(
    prefix="/projects/{project_id}/dead-letters", tags=["dead letters"], responses=ERROR_RESPONSES
)

PREVIEW_BYTES = 1024
RAW_LIMIT_BYTES = 3 * 1024 * 1024  # 4 MiB once base64-encoded


class DeadLetterSummary(BaseModel):
    id: int
    project_id: UUID
    created_at: datetime
    reason: str
    source: str = Field(description="The queue the message came from.")
    message_id: str | None
    size: int = Field(description="Raw message size in bytes.")
    preview: str | None = Field(
        description="The start of the message as UTF-8 text; null when it is not text."
    )
    details: dict[str, Any]
    replayed_at: datetime | None = Field(
        description="When it was last sent back through the queue, automatically or by hand "
        "(cleared when it fails again)."
    )
    redrive_attempts: int = Field(description="Automatic re-drives so far.")
    redriven_at: datetime | None = Field(description="When the last automatic re-drive was.")
    redrive: RedriveState = Field(
        description="scheduled: it ran out of deliveries (an outage) and is sent back "
        "automatically once the database answers; redriven: sent back; exhausted: sent back "
        "LOGSIGHT_REDRIVE_ATTEMPTS times and failed again, waiting for `logsight dead-letters "
        "replay`; manual: rejected for its content, replay by hand once the cause is fixed."
    )


class DeadLetterPublic(DeadLetterSummary):
    raw_base64: str = Field(description="The raw message bytes, base64-encoded.")
    raw_truncated: bool = Field(description="True when raw_base64 holds only the first 3 MiB.")


def _text(raw: bytes, complete: bool) -> str | None:
    """raw as UTF-8, or None when it is not; a cut-off multi-byte character at the end of an
    incomplete prefix is dropped rather than counted against it."""
    try:
        return codecs.getincrementaldecoder("utf-8")().decode(raw, final=complete)
    except UnicodeDecodeError:
        return None


def _redrive(row: dict[str, Any], settings: Settings) -> RedriveState:
    return redrive_state(row["reason"], row["replayed_at"], row["redrive_attempts"], settings)


@router.get(
    "", response_model=Page[DeadLetterSummary], summary="Dead letters, newest first (admins)"
)
def list_dead_letters(
    project_id: UUID,
    access: CurrentAccess,
    services: Services,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[DeadLetterSummary]:
    access.project(project_id, need=Role.ADMIN, reading=True)
    rows, following = dead_letter_queries.summaries(
        access.conn,
        project_id,
        head_bytes=PREVIEW_BYTES,
        limit=limit,
        after=decode_cursor(cursor, TIME_SERIAL),
    )
    return page(
        [
            DeadLetterSummary(
                **r,
                preview=_text(r["head"], r["size"] <= PREVIEW_BYTES),
                redrive=_redrive(r, services.settings),
            )
            for r in rows
        ],
        following,
    )


@router.get(
    "/{dead_letter_id}", response_model=DeadLetterPublic, summary="One dead letter (admins)"
)
def get_dead_letter(
    project_id: UUID,
    dead_letter_id: Annotated[int, Path(ge=1, le=BIGINT_MAX)],
    access: CurrentAccess,
    services: Services,
) -> DeadLetterPublic:
    access.project(project_id, need=Role.ADMIN, reading=True)
    row = dead_letter_queries.get(
        access.conn, project_id, dead_letter_id, raw_bytes=RAW_LIMIT_BYTES
    )
    if row is None:
        raise ApiError(404, "not_found", "dead letter not found", "dead_letter_id")
    raw: bytes = row.pop("raw")
    complete = row["size"] <= RAW_LIMIT_BYTES
    text = _text(raw[:PREVIEW_BYTES], complete and row["size"] <= PREVIEW_BYTES)
    if text is not None and _text(raw, complete) is None:
        text = None
    return DeadLetterPublic(
        **row,
        preview=text,
        redrive=_redrive(row, services.settings),
        raw_base64=base64.b64encode(raw).decode("ascii"),
        raw_truncated=not complete,
    )
