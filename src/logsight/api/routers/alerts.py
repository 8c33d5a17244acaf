"""Alert rules and channels of a project, their history, and test notifications.

Every member reads; members manage rules; admins manage channels (they hold credentials).
Channel secrets (webhook URLs, routing keys, bot tokens, signing secrets) are write-only: they
are stored encrypted and no response ever carries them, only ``secret_set``. Every change is
in the audit log, without secret values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args
from uuid import UUID

from fastapi import APIRouter, Query, Response, status
from pydantic import AwareDatetime, BaseModel, Field, ValidationError

from logsight.alerting.channels import CHANNEL_TYPES, SPECS
from logsight.alerting.engine import AlertEngine
from logsight.alerting.rules import Condition, Regression
from logsight.alerting.rules import IssueFrequency as IssueFrequencyCondition
from logsight.alerting.secret_box import secret_box
from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, encode_cursor
from logsight.errors import ApiError
from logsight.query import alerts as reads
from logsight.tenancy import alerts as writes
from logsight.tenancy import audit
from logsight.tenancy.access import Access, Role, not_found
from logsight.tenancy.listing import Name, int_after, page_of, time_id_after, time_id_cursor

router = APIRouter(
    prefix="/projects/{project_id}/alerts", tags=["alerts"], responses=ERROR_RESPONSES
)

ChannelType = Literal["slack", "discord", "teams", "telegram", "pagerduty", "webhook", "email"]
# The API's list of types is the channel modules' list.
assert set(CHANNEL_TYPES) == set(get_args(ChannelType))

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT)]
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


def _checked(model: type[BaseModel], value: dict[str, Any], field: str) -> dict[str, Any]:
    try:
        return model.model_validate(value).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (field, *first["loc"]))
        raise ApiError(422, "invalid_field", str(first["msg"]), where) from exc


def _channel(access: Access, project_id: UUID, channel_id: UUID) -> dict[str, Any]:
    found = reads.channel(access.conn, project_id, channel_id)
    if found is None:
        raise not_found("channel", "alert_channel_id")
    return found


def _audit(
    access: Access,
    project: dict[str, Any],
    action: str,
    target_type: str,
    target_id: UUID,
    ip: str | None,
    **details: Any,
) -> None:
    audit.record(
        access.conn,
        action,
        organization_id=project["organization_id"],
        actor_user_id=access.user_id,
        target_type=target_type,
        target_id=target_id,
        ip=ip,
        details={"project_id": str(project["id"]), **details},
    )


@router.get("/channels", response_model=Page[ChannelPublic], summary="A project's alert channels")
def list_channels(
    project_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[ChannelPublic]:
    access.project(project_id)
    rows = reads.channels(access.conn, project_id, time_id_after(cursor), limit + 1)
    page, more = page_of(rows, limit)
    return Page[ChannelPublic](
        data=[ChannelPublic(**row) for row in page],
        next_cursor=time_id_cursor(page[-1]) if more else None,
    )


@router.post(
    "/channels",
    response_model=ChannelPublic,
    status_code=status.HTTP_201_CREATED,
    summary="Add an alert channel (admins)",
)
def create_channel(
    project_id: UUID, body: ChannelCreate, access: CurrentAccess, svc: Services, ip: ClientIp
) -> ChannelPublic:
    project = access.project(project_id, need=Role.ADMIN)
    spec = SPECS[body.type]
    config = _checked(spec.config, body.config, "body.config")
    secret = None
    if spec.secret_required:
        if body.secret is None:
            raise ApiError(
                422, "invalid_field", f"a {body.type} channel needs a secret", "body.secret"
            )
        secret = secret_box(svc.settings).seal(_checked(spec.secret, body.secret, "body.secret"))
    elif body.secret:
        raise ApiError(
            422, "invalid_field", f"a {body.type} channel takes no secret", "body.secret"
        )
    conn = access.conn
    with conn.transaction():
        channel_id = writes.create_channel(
            conn, project_id, name=body.name, type=body.type, config=config, secret=secret
        )
        _audit(
            access,
            project,
            "alert_channel.created",
            "alert_channel",
            channel_id,
            ip,
            name=body.name,
            type=body.type,
        )
    return ChannelPublic(**_channel(access, project_id, channel_id))


@router.get(
    "/channels/{alert_channel_id}", response_model=ChannelPublic, summary="One alert channel"
)
def get_channel(project_id: UUID, alert_channel_id: UUID, access: CurrentAccess) -> ChannelPublic:
    access.project(project_id)
    return ChannelPublic(**_channel(access, project_id, alert_channel_id))


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
    project = access.project(project_id, need=Role.ADMIN)
    current = _channel(access, project_id, alert_channel_id)
    spec = SPECS[current["type"]]
    changes: dict[str, Any] = {}
    if body.name is not None:
        changes["name"] = body.name
    if body.config is not None:
        changes["config"] = _checked(spec.config, body.config, "body.config")
    if body.secret is not None:
        if not spec.secret_required:
            raise ApiError(
                422, "invalid_field", f"a {current['type']} channel takes no secret", "body.secret"
            )
        changes["secret"] = secret_box(svc.settings).seal(
            _checked(spec.secret, body.secret, "body.secret")
        )
    if changes:
        conn = access.conn
        with conn.transaction():
            writes.update_channel(conn, alert_channel_id, changes)
            _audit(
                access,
                project,
                "alert_channel.updated",
                "alert_channel",
                alert_channel_id,
                ip,
                fields=sorted(changes),
            )
    return ChannelPublic(**_channel(access, project_id, alert_channel_id))


@router.delete(
    "/channels/{alert_channel_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an alert channel (admins); rules stop using it",
)
def delete_channel(
    project_id: UUID, alert_channel_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    project = access.project(project_id, need=Role.ADMIN)
    current = _channel(access, project_id, alert_channel_id)
    conn = access.conn
    with conn.transaction():
        writes.delete_channel(conn, alert_channel_id)
        _audit(
            access,
            project,
            "alert_channel.deleted",
            "alert_channel",
            alert_channel_id,
            ip,
            name=current["name"],
            type=current["type"],
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


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
    project = access.project(project_id, need=Role.MEMBER)
    _channel(access, project_id, alert_channel_id)
    engine = AlertEngine(svc.settings)
    notification_id = engine.send_test(access.conn, project, alert_channel_id, datetime.now(UTC))
    _audit(access, project, "alert_channel.tested", "alert_channel", alert_channel_id, ip)
    return TestResult(
        notification_id=notification_id,
        deliveries=[
            DeliveryPublic(**row)
            for row in reads.notification_deliveries(access.conn, notification_id)
        ],
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


_NULLABLE = frozenset({"snoozed_until", "digest_seconds"})


def _rule(access: Access, project_id: UUID, rule_id: UUID) -> dict[str, Any]:
    found = reads.rule(access.conn, project_id, rule_id)
    if found is None:
        raise not_found("alert rule", "alert_rule_id")
    return found


def _check_references(
    access: Access, project_id: UUID, condition: Any, channel_ids: list[UUID] | None
) -> None:
    if channel_ids:
        missing = reads.missing_channels(access.conn, project_id, channel_ids)
        if missing:
            raise ApiError(
                422,
                "invalid_field",
                f"not a channel of this project: {missing[0]}",
                "body.channel_ids",
            )
    issue_id = (
        condition.issue_id if isinstance(condition, Regression | IssueFrequencyCondition) else None
    )
    if issue_id is not None and not reads.issue_exists(access.conn, project_id, issue_id):
        raise ApiError(
            422, "invalid_field", "not an issue of this project", "body.condition.issue_id"
        )


def _stored(fields: dict[str, Any], condition: Any) -> dict[str, Any]:
    if condition is not None:
        fields["kind"] = condition.kind
        fields["condition"] = condition.model_dump(mode="json", exclude_none=True)
    return fields


@router.get("/rules", response_model=Page[RulePublic], summary="A project's alert rules")
def list_rules(
    project_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[RulePublic]:
    access.project(project_id)
    rows = reads.rules(access.conn, project_id, time_id_after(cursor), limit + 1)
    page, more = page_of(rows, limit)
    return Page[RulePublic](
        data=[RulePublic(**row) for row in page],
        next_cursor=time_id_cursor(page[-1]) if more else None,
    )


@router.post(
    "/rules",
    response_model=RulePublic,
    status_code=status.HTTP_201_CREATED,
    summary="Create an alert rule (members)",
)
def create_rule(
    project_id: UUID, body: RuleCreate, access: CurrentAccess, ip: ClientIp
) -> RulePublic:
    project = access.project(project_id, need=Role.MEMBER)
    _check_references(access, project_id, body.condition, body.channel_ids)
    fields = _stored(body.model_dump(exclude={"condition", "channel_ids"}), body.condition)
    conn = access.conn
    with conn.transaction():
        rule_id = writes.create_rule(conn, project_id, fields, body.channel_ids, access.user_id)
        _audit(
            access,
            project,
            "alert_rule.created",
            "alert_rule",
            rule_id,
            ip,
            name=body.name,
            kind=body.condition.kind,
        )
    return RulePublic(**_rule(access, project_id, rule_id))


@router.get("/rules/{alert_rule_id}", response_model=RulePublic, summary="One alert rule")
def get_rule(project_id: UUID, alert_rule_id: UUID, access: CurrentAccess) -> RulePublic:
    access.project(project_id)
    return RulePublic(**_rule(access, project_id, alert_rule_id))


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
    project = access.project(project_id, need=Role.MEMBER)
    _rule(access, project_id, alert_rule_id)
    given = body.model_fields_set
    for name in given - _NULLABLE:
        if getattr(body, name) is None:
            raise ApiError(422, "invalid_field", "may not be null", f"body.{name}")
    _check_references(access, project_id, body.condition, body.channel_ids)
    fields = _stored(
        {
            k: v
            for k, v in body.model_dump(include=given).items()
            if k not in ("condition", "channel_ids")
        },
        body.condition,
    )
    conn = access.conn
    with conn.transaction():
        writes.update_rule(conn, alert_rule_id, fields)
        if body.channel_ids is not None:
            writes.set_rule_channels(conn, alert_rule_id, body.channel_ids)
        _audit(
            access,
            project,
            "alert_rule.updated",
            "alert_rule",
            alert_rule_id,
            ip,
            fields=sorted(given),
        )
    return RulePublic(**_rule(access, project_id, alert_rule_id))


@router.delete(
    "/rules/{alert_rule_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete an alert rule and its history (members)",
)
def delete_rule(
    project_id: UUID, alert_rule_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    project = access.project(project_id, need=Role.MEMBER)
    current = _rule(access, project_id, alert_rule_id)
    conn = access.conn
    with conn.transaction():
        writes.delete_rule(conn, alert_rule_id)
        _audit(
            access,
            project,
            "alert_rule.deleted",
            "alert_rule",
            alert_rule_id,
            ip,
            name=current["name"],
        )
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
    access.project(project_id)
    _rule(access, project_id, alert_rule_id)
    rows = reads.history(access.conn, alert_rule_id, int_after(cursor), limit + 1)
    page, more = page_of(rows, limit)
    return Page[HistoryEntry](
        data=[HistoryEntry(**row) for row in page],
        next_cursor=encode_cursor([page[-1]["id"]]) if more else None,
    )
