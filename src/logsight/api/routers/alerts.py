"""Alert rules and channels of a project, their history, and test notifications.

Every member reads; members manage rules; admins manage channels (they hold credentials).
Channel secrets (webhook URLs, routing keys, bot tokens, signing secrets) are write-only: they
are stored encrypted and no response ever carries them, only ``secret_set``. Every change is
in the audit log, without secret values (logsight.tenancy.alerts).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import AwareDatetime, BaseModel, Field

from logsight.alerting.channels import CHANNEL_TYPES
from logsight.alerting.rules import Condition
from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.fields import Name
from logsight.api.pagination import (
    DEFAULT_LIMIT,
    SERIAL,
    TIME_ID,
    Limit,
    Page,
    decode_cursor,
    page,
)
from logsight.query import alerts as reads
from logsight.tenancy import alerts

router = APIRouter(
    prefix="/projects/{project_id}/alerts", tags=["alerts"], responses=ERROR_RESPONSES
)

ChannelType = Literal["slack", "discord", "teams", "telegram", "pagerduty", "webhook", "email"]
# The API's list of types is the channel modules' list.
assert set(CHANNEL_TYPES) == set(get_args(ChannelType))

WindowSeconds = Annotated[int, Field(ge=60, le=604800, multiple_of=60)]
IntervalSeconds = Annotated[int, Field(ge=60, le=86400, multiple_of=60)]
CooldownSeconds = Annotated[int, Field(ge=60, le=604800)]
DigestSeconds = Annotated[int, Field(ge=60, le=86400)]
ChannelIds = Annotated[list[UUID], Field(max_length=20)]
ChannelSettings = Annotated[dict[str, Any], Field(description="The type's visible settings.")]
Secret = Annotated[
    dict[str, Any],
    Field(description="The type's credentials (write-only: never returned). docs/alerts.md."),
]


# -- Channels ----------------------------------------------------------------------------------


class ChannelCreate(BaseModel):
    name: Name
    type: ChannelType
    config: ChannelSettings = Field(default_factory=dict)
    secret: Secret | None = None


class ChannelUpdate(BaseModel):
    name: Name | None = None
    config: ChannelSettings | None = None
    secret: Secret | None = Field(default=None, description="Replaces the whole secret.")


class ChannelPublic(BaseModel):
    id: UUID
    project_id: UUID
    name: str
    type: str
    config: dict[str, Any]
    secret_set: bool = Field(description="Credentials are stored (they are never shown).")
    created_at: datetime
    updated_at: datetime


class DeliveryPublic(BaseModel):
    channel_id: UUID | None = Field(description="Null once the channel was deleted.")
    channel_type: str
    status: Literal["pending", "sending", "sent", "failed"]
    attempts: int
    response_code: int | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


class TestResult(BaseModel):
    notification_id: UUID
    deliveries: list[DeliveryPublic]


@router.get("/channels", response_model=Page[ChannelPublic], summary="A project's alert channels")
def list_channels(
    project_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ChannelPublic]:
    access.project(project_id)
    rows, following = reads.channels(
        access.conn, project_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([ChannelPublic(**row) for row in rows], following)


@router.post(
    "/channels",
    response_model=ChannelPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Add an alert channel (admins)",
)
def create_channel(
    project_id: UUID, body: ChannelCreate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ChannelPublic:
    return ChannelPublic(
        **alerts.create_channel(
            access,
            svc.settings,
            project_id,
            name=body.name,
            type=body.type,
            config=body.config,
            secret=body.secret,
            ip=ip,
        )
    )


@router.get(
    "/channels/{alert_channel_id}", response_model=ChannelPublic, summary="One alert channel"
)
def get_channel(project_id: UUID, alert_channel_id: UUID, access: CurrentAccess) -> ChannelPublic:
    return ChannelPublic(**alerts.channel(access, project_id, alert_channel_id))


@router.patch(
    "/channels/{alert_channel_id}",
    response_model=ChannelPublic,
    summary="Change an alert channel (admins)",
)
def update_channel(
    project_id: UUID,
    alert_channel_id: UUID,
    body: ChannelUpdate,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
) -> ChannelPublic:
    return ChannelPublic(
        **alerts.update_channel(
            access,
            svc.settings,
            project_id,
            alert_channel_id,
            name=body.name,
            config=body.config,
            secret=body.secret,
            ip=ip,
        )
    )


@router.delete(
    "/channels/{alert_channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an alert channel (admins); rules stop using it",
)
def delete_channel(
    project_id: UUID, alert_channel_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    alerts.delete_channel(access, project_id, alert_channel_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/channels/{alert_channel_id}/test",
    response_model=TestResult,
    summary="Send a test notification to the channel now (members)",
)
def test_channel(
    project_id: UUID,
    alert_channel_id: UUID,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
) -> TestResult:
    notification_id, deliveries = alerts.test_channel(
        access, svc.settings, project_id, alert_channel_id, ip
    )
    return TestResult(
        notification_id=notification_id,
        deliveries=[DeliveryPublic(**row) for row in deliveries],
    )


# -- Rules -------------------------------------------------------------------------------------


class RuleCreate(BaseModel):
    name: Name
    enabled: bool = True
    condition: Condition
    window_seconds: WindowSeconds = Field(default=300, description="The window looked at.")
    interval_seconds: IntervalSeconds = Field(default=60, description="Evaluated this often.")
    cooldown_seconds: CooldownSeconds = Field(
        default=3600, description="While firing, notified again at most this often."
    )
    snoozed_until: AwareDatetime | None = Field(
        default=None, description="Not evaluated before this moment."
    )
    digest_seconds: DigestSeconds | None = Field(
        default=None,
        description="Collect state changes and send one message when the oldest has waited "
        "this long; null: notify each change at once.",
    )
    channel_ids: ChannelIds = Field(default_factory=list)


class RuleUpdate(BaseModel):
    name: Name | None = None
    enabled: bool | None = None
    condition: Condition | None = None
    window_seconds: WindowSeconds | None = None
    interval_seconds: IntervalSeconds | None = None
    cooldown_seconds: CooldownSeconds | None = None
    snoozed_until: AwareDatetime | None = Field(default=None, description="null: not snoozed.")
    digest_seconds: DigestSeconds | None = Field(default=None, description="null: no digest.")
    channel_ids: ChannelIds | None = None


class RulePublic(BaseModel):
    id: UUID
    project_id: UUID
    name: str
    enabled: bool
    kind: str
    condition: dict[str, Any]
    window_seconds: int
    interval_seconds: int
    cooldown_seconds: int
    snoozed_until: datetime | None
    digest_seconds: int | None
    channel_ids: list[UUID]
    state: Literal["ok", "firing"]
    state_changed_at: datetime | None
    last_value: float | None
    last_evaluated_at: datetime | None
    last_notified_at: datetime | None
    created_at: datetime
    updated_at: datetime


class HistoryEntry(BaseModel):
    id: int
    kind: Literal["firing", "resolved", "repeat"]
    at: datetime
    value: float | None
    summary: str
    details: dict[str, Any]
    notification_id: UUID | None = Field(description="Null while waiting for a digest.")
    deliveries: list[DeliveryPublic]


@router.get("/rules", response_model=Page[RulePublic], summary="A project's alert rules")
def list_rules(
    project_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RulePublic]:
    access.project(project_id)
    rows, following = reads.rules(
        access.conn, project_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([RulePublic(**row) for row in rows], following)


@router.post(
    "/rules",
    response_model=RulePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an alert rule (members)",
)
def create_rule(
    project_id: UUID, body: RuleCreate, access: CurrentAccess, ip: ClientIp
) -> RulePublic:
    fields = body.model_dump(exclude={"condition", "channel_ids"})
    return RulePublic(
        **alerts.create_rule(access, project_id, fields, body.condition, body.channel_ids, ip)
    )


@router.get("/rules/{alert_rule_id}", response_model=RulePublic, summary="One alert rule")
def get_rule(project_id: UUID, alert_rule_id: UUID, access: CurrentAccess) -> RulePublic:
    return RulePublic(**alerts.rule(access, project_id, alert_rule_id))


@router.patch(
    "/rules/{alert_rule_id}",
    response_model=RulePublic,
    summary="Change an alert rule (members)",
    description="Only the fields in the body change; a new condition or window starts the "
    "rule again from 'ok'.",
)
def update_rule(
    project_id: UUID, alert_rule_id: UUID, body: RuleUpdate, access: CurrentAccess, ip: ClientIp
) -> RulePublic:
    changes = body.model_dump(include=body.model_fields_set - {"condition", "channel_ids"})
    return RulePublic(
        **alerts.update_rule(
            access, project_id, alert_rule_id, changes, body.condition, body.channel_ids, ip
        )
    )


@router.delete(
    "/rules/{alert_rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an alert rule and its history (members)",
)
def delete_rule(
    project_id: UUID, alert_rule_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    alerts.delete_rule(access, project_id, alert_rule_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/rules/{alert_rule_id}/history",
    response_model=Page[HistoryEntry],
    summary="A rule's firings, repeats and resolutions with their deliveries, newest first",
)
def rule_history(
    project_id: UUID,
    alert_rule_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[HistoryEntry]:
    alerts.rule(access, project_id, alert_rule_id)
    rows, following = reads.history(
        access.conn, alert_rule_id, limit=limit, after=decode_cursor(cursor, SERIAL)
    )
    return page([HistoryEntry(**row) for row in rows], following)
