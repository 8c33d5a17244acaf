"""A project's ingest quotas: every member may read them, admins change them (audited).

Each quota is the project's own value, or the installation's default when it has none (null);
0 means unlimited. Ingest applies a change within LOGSIGHT_KEY_CACHE_SECONDS.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.storable import BIGINT_MAX
from logsight.config import Settings
from logsight.tenancy import quotas
from logsight.tenancy.quotas import project_quotas

router = APIRouter(
    prefix="/projects/{project_id}/quotas", tags=["quotas"], responses=ERROR_RESPONSES
)

QuotaValue = Annotated[int | None, Field(ge=0, le=BIGINT_MAX)]


class QuotaSettings(BaseModel):
    """Null: the installation's default. 0: unlimited."""

    events_per_minute: QuotaValue = Field(
        default=None, description="Events the project may send per minute (UTC minutes)."
    )
    events_per_month: QuotaValue = Field(
        default=None, description="Events the project may send per calendar month (UTC)."
    )
    key_events_per_second: QuotaValue = Field(
        default=None, description="Events each of the project's ingest keys may send per second."
    )


class QuotasPublic(BaseModel):
    events_per_minute: int = Field(description="In force (0: unlimited).")
    events_per_month: int = Field(description="In force (0: unlimited).")
    key_events_per_second: int = Field(description="In force (0: unlimited).")
    project: QuotaSettings = Field(description="The project's own values (null: the default).")
    defaults: QuotaSettings = Field(description="The installation's defaults (LOGSIGHT_*).")


def _defaults(settings: Settings) -> QuotaSettings:
    return QuotaSettings(
        events_per_minute=settings.project_events_per_minute,
        events_per_month=settings.project_events_per_month,
        key_events_per_second=settings.key_events_per_second,
    )


def _public(own: dict[str, int | None], settings: Settings) -> QuotasPublic:
    defaults = _defaults(settings).model_dump()
    in_force = {name: defaults[name] if value is None else value for name, value in own.items()}
    return QuotasPublic(**in_force, project=QuotaSettings(**own), defaults=_defaults(settings))


@router.get("", response_model=QuotasPublic, summary="The project's ingest quotas")
def get_quotas(project_id: UUID, access: CurrentAccess, svc: Services) -> QuotasPublic:
    access.project(project_id)
    return _public(project_quotas(access.conn, project_id), svc.settings)


@router.patch(
    "",
    response_model=QuotasPublic,
    summary="Change the project's ingest quotas (admins)",
    description="Only the quotas named in the body change; null puts one back to the default.",
)
def update_quotas(
    project_id: UUID, body: QuotaSettings, access: CurrentAccess, svc: Services, ip: ClientIp
) -> QuotasPublic:
    quotas.update(access, project_id, body.model_dump(include=body.model_fields_set), ip)
    return _public(project_quotas(access.conn, project_id), svc.settings)
