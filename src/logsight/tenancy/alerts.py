"""Alert rules and channels of a project, with their rules: members manage rules, admins
channels (they hold credentials), every change audited without secret values. A channel's
secret is checked against its type, sealed before it is stored and never read back here."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ValidationError

from logsight.alerting.channels import SPECS
from logsight.alerting.engine import AlertEngine
from logsight.alerting.rules import Condition, IssueFrequency, Regression
from logsight.alerting.secret_box import secret_box
from logsight.config import Settings
from logsight.errors import ApiError
from logsight.query import alerts as reads
from logsight.query.keyset import Row
from logsight.storage import alerts as writes
from logsight.tenancy.access import Access, Role, not_found
from logsight.tenancy.audit import audited

# Rule fields that may be set to null (the others may only be left out).
NULLABLE = frozenset({"snoozed_until", "digest_seconds"})


def _checked(model: type[BaseModel], value: dict[str, Any], field: str) -> dict[str, Any]:
    try:
        return model.model_validate(value).model_dump(mode="json", exclude_none=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in (field, *first["loc"]))
        raise ApiError(422, "invalid_field", str(first["msg"]), where) from exc


def channel(access: Access, project_id: UUID, channel_id: UUID) -> Row:
    access.project(project_id)
    found = reads.channel(access.conn, project_id, channel_id)
    if found is None:
        raise not_found("channel", "alert_channel_id")
    return found


def rule(access: Access, project_id: UUID, rule_id: UUID) -> Row:
    access.project(project_id)
    found = reads.rule(access.conn, project_id, rule_id)
    if found is None:
        raise not_found("alert rule", "alert_rule_id")
    return found


# -- Channels ----------------------------------------------------------------------------------


def _sealed_secret(
    settings: Settings, type: str, secret: dict[str, Any] | None, *, required: bool
) -> bytes | None:
    spec = SPECS[type]
    if not spec.secret_required:
        if secret:
            raise ApiError(422, "invalid_field", f"a {type} channel takes no secret", "body.secret")
        return None
    if secret is None:
        if required:
            raise ApiError(422, "invalid_field", f"a {type} channel needs a secret", "body.secret")
        return None
    return secret_box(settings).seal(_checked(spec.secret, secret, "body.secret"))


def create_channel(
    access: Access,
    settings: Settings,
    project_id: UUID,
    *,
    name: str,
    type: str,
    config: dict[str, Any],
    secret: dict[str, Any] | None,
    ip: str | None,
) -> Row:
    project = access.project(project_id, need=Role.ADMIN)
    checked = _checked(SPECS[type].config, config, "body.config")
    sealed = _sealed_secret(settings, type, secret, required=True)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        channel_id = writes.create_channel(
            access.conn, project_id, name=name, type=type, config=checked, secret=sealed
        )
        log.record(
            "alert_channel.created",
            "alert_channel",
            channel_id,
            {"project_id": str(project_id), "name": name, "type": type},
        )
    return channel(access, project_id, channel_id)


def update_channel(
    access: Access,
    settings: Settings,
    project_id: UUID,
    channel_id: UUID,
    *,
    name: str | None,
    config: dict[str, Any] | None,
    secret: dict[str, Any] | None,
    ip: str | None,
) -> Row:
    project = access.project(project_id, need=Role.ADMIN)
    current = channel(access, project_id, channel_id)
    changes: dict[str, Any] = {}
    if name is not None:
        changes["name"] = name
    if config is not None:
        changes["config"] = _checked(SPECS[current["type"]].config, config, "body.config")
    if secret is not None:
        changes["secret"] = _sealed_secret(settings, current["type"], secret, required=False)
    if changes:
        with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
            writes.update_channel(access.conn, channel_id, changes)
            log.record(
                "alert_channel.updated",
                "alert_channel",
                channel_id,
                {"project_id": str(project_id), "fields": sorted(changes)},
            )
    return channel(access, project_id, channel_id)


def delete_channel(access: Access, project_id: UUID, channel_id: UUID, ip: str | None) -> None:
    project = access.project(project_id, need=Role.ADMIN)
    current = channel(access, project_id, channel_id)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        writes.delete_channel(access.conn, channel_id)
        log.record(
            "alert_channel.deleted",
            "alert_channel",
            channel_id,
            {"project_id": str(project_id), "name": current["name"], "type": current["type"]},
        )


def test_channel(
    access: Access, settings: Settings, project_id: UUID, channel_id: UUID, ip: str | None
) -> tuple[UUID, list[Row]]:
    """A test notification sent to the channel now: its id and its delivery."""
    project = access.project(project_id, need=Role.MEMBER)
    channel(access, project_id, channel_id)
    engine = AlertEngine(settings)
    notification_id = engine.send_test(access.conn, project, channel_id, datetime.now(UTC))
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        log.record(
            "alert_channel.tested", "alert_channel", channel_id, {"project_id": str(project_id)}
        )
    return notification_id, reads.notification_deliveries(access.conn, notification_id)


# -- Rules -------------------------------------------------------------------------------------


def _check_references(
    access: Access, project_id: UUID, condition: Condition | None, channel_ids: list[UUID] | None
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
    issue_id = condition.issue_id if isinstance(condition, Regression | IssueFrequency) else None
    if issue_id is not None and not reads.issue_exists(access.conn, project_id, issue_id):
        raise ApiError(
            422, "invalid_field", "not an issue of this project", "body.condition.issue_id"
        )


def _stored(fields: dict[str, Any], condition: Condition | None) -> dict[str, Any]:
    if condition is not None:
        fields["kind"] = condition.kind
        fields["condition"] = condition.model_dump(mode="json", exclude_none=True)
    return fields


def create_rule(
    access: Access,
    project_id: UUID,
    fields: dict[str, Any],
    condition: Condition,
    channel_ids: list[UUID],
    ip: str | None,
) -> Row:
    project = access.project(project_id, need=Role.MEMBER)
    _check_references(access, project_id, condition, channel_ids)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        rule_id = writes.create_rule(
            access.conn, project_id, _stored(fields, condition), channel_ids, access.user_id
        )
        log.record(
            "alert_rule.created",
            "alert_rule",
            rule_id,
            {"project_id": str(project_id), "name": fields["name"], "kind": condition.kind},
        )
    return rule(access, project_id, rule_id)


def update_rule(
    access: Access,
    project_id: UUID,
    rule_id: UUID,
    changes: dict[str, Any],
    condition: Condition | None,
    channel_ids: list[UUID] | None,
    ip: str | None,
) -> Row:
    """``changes``: the rule's other fields given in the request (null only where allowed)."""
    project = access.project(project_id, need=Role.MEMBER)
    rule(access, project_id, rule_id)
    for name, value in changes.items():
        if value is None and name not in NULLABLE:
            raise ApiError(422, "invalid_field", "may not be null", f"body.{name}")
    _check_references(access, project_id, condition, channel_ids)
    given = sorted(
        [
            *changes,
            *(["condition"] if condition else []),
            *(["channel_ids"] if channel_ids is not None else []),
        ]
    )
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        writes.update_rule(access.conn, rule_id, _stored(dict(changes), condition))
        if channel_ids is not None:
            writes.set_rule_channels(access.conn, rule_id, channel_ids)
        log.record(
            "alert_rule.updated",
            "alert_rule",
            rule_id,
            {"project_id": str(project_id), "fields": given},
        )
    return rule(access, project_id, rule_id)


def delete_rule(access: Access, project_id: UUID, rule_id: UUID, ip: str | None) -> None:
    project = access.project(project_id, need=Role.MEMBER)
    current = rule(access, project_id, rule_id)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        writes.delete_rule(access.conn, rule_id)
        log.record(
            "alert_rule.deleted",
            "alert_rule",
            rule_id,
            {"project_id": str(project_id), "name": current["name"]},
        )
