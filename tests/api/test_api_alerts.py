"""Alert rules and channels through the API: roles, strict validation, write-only secrets
(encrypted at rest, never returned), audit, and the OpenAPI document."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from logsight.config import Settings
from tests.support.alerts import alert_settings as loopback_settings
from tests.support.api import ApiCaller, make_team
from tests.support.receivers import receiver

ROLES = ("owner", "admin", "member", "viewer")
SLACK_URL = "https://hooks.slack.com/services/T000/B000/very-secret-token"


@pytest.fixture
def alert_settings(settings: Settings, tmp_path: Path) -> Settings:
    # Notifications may reach the loopback receivers of these tests.
    return loopback_settings(settings, data_dir=tmp_path)


@pytest.fixture
def api(alert_settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(alert_settings)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    return make_team(api, db)


def base(team: dict[str, Any]) -> str:
    return f"/api/projects/{team['project']['id']}/alerts"


def slack_channel(api: ApiCaller, team: dict[str, Any]) -> dict[str, Any]:
    reply = api(
        "POST",
        f"{base(team)}/channels",
        token=team["admin"].token,
        json={"name": "ops", "type": "slack", "secret": {"url": SLACK_URL}},
    )
    assert reply.status == 201, reply.body
    body: dict[str, Any] = reply.body
    return body


def test_channel_secrets_are_write_only_and_encrypted(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    channel = slack_channel(api, team)
    assert channel["secret_set"] is True
    assert "secret" not in channel and SLACK_URL not in str(channel)
    for path in (f"{base(team)}/channels", f"{base(team)}/channels/{channel['id']}"):
        reply = api("GET", path, token=team["viewer"].token)
        assert reply.status == 200
        assert "very-secret-token" not in str(reply.body)
    stored = db.execute(
        "SELECT secret, config::text FROM alert_channels WHERE id = %s", (channel["id"],)
    ).fetchone()
    assert stored is not None
    assert b"very-secret-token" not in bytes(stored[0]) and "very-secret" not in stored[1]
    audit = db.execute(
        "SELECT action, details::text FROM audit_log WHERE target_id = %s", (channel["id"],)
    ).fetchall()
    assert [a for a, _ in audit] == ["alert_channel.created"]
    assert "very-secret" not in audit[0][1]


def test_only_admins_manage_channels(api: ApiCaller, team: dict[str, Any]) -> None:
    for role in ("member", "viewer"):
        reply = api(
            "POST",
            f"{base(team)}/channels",
            token=team[role].token,
            json={"name": "ops", "type": "slack", "secret": {"url": SLACK_URL}},
        )
        assert reply.status == 403, role


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "type": "slack"}, "body.secret"),
        (
            {"name": "x", "type": "slack", "secret": {"url": "ftp://example.com/x"}},
            "body.secret.url",
        ),
        (
            {"name": "x", "type": "slack", "secret": {"url": SLACK_URL, "extra": 1}},
            "body.secret.extra",
        ),
        ({"name": "x", "type": "sms", "secret": {}}, "body.type"),
        ({"name": "x", "type": "email", "config": {"to": []}}, "body.config.to"),
        (
            {"name": "x", "type": "email", "config": {"to": ["a@b.co"]}, "secret": {"u": 1}},
            "body.secret",
        ),
        (
            {"name": "x", "type": "pagerduty", "secret": {"routing_key": "short"}},
            "body.secret.routing_key",
        ),
        (
            {
                "name": "x",
                "type": "telegram",
                "config": {"chat_id": "1"},
                "secret": {"bot_token": "x"},
            },
            "body.secret.bot_token",
        ),
        (
            {
                "name": "x",
                "type": "webhook",
                "secret": {"url": SLACK_URL, "signing_secret": "short"},
            },
            "body.secret.signing_secret",
        ),
        ({"name": "", "type": "slack", "secret": {"url": SLACK_URL}}, "body.name"),
    ],
)
def test_bad_channels_are_422_naming_the_field(
    api: ApiCaller, team: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    reply = api("POST", f"{base(team)}/channels", token=team["admin"].token, json=body)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field, reply.error


def test_rule_crud_with_channels_and_audit(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    channel = slack_channel(api, team)
    rule = {
        "name": "Checkout errors",
        "condition": {
            "kind": "threshold",
            "op": "above",
            "threshold": 100,
            "filter": {"type": "error", "release": "1.2.0"},
        },
        "window_seconds": 600,
        "channel_ids": [channel["id"]],
    }
    created = api("POST", f"{base(team)}/rules", token=team["member"].token, json=rule)
    assert created.status == 201, created.body
    body = created.body
    assert body["kind"] == "threshold" and body["state"] == "ok"
    assert body["channel_ids"] == [channel["id"]]
    assert body["condition"]["filter"] == {"type": "error", "release": "1.2.0"}
    path = f"{base(team)}/rules/{body['id']}"
    assert api("GET", path, token=team["viewer"].token).body == body
    assert api("PATCH", path, token=team["viewer"].token, json={"enabled": False}).status == 403
    changed = api(
        "PATCH", path, token=team["member"].token, json={"enabled": False, "channel_ids": []}
    )
    assert changed.status == 200, changed.body
    assert changed.body["enabled"] is False and changed.body["channel_ids"] == []
    listed = api("GET", f"{base(team)}/rules", token=team["viewer"].token)
    assert [r["id"] for r in listed.body["data"]] == [body["id"]]
    history = api("GET", f"{path}/history", token=team["viewer"].token)
    assert history.status == 200 and history.body["data"] == []
    assert api("DELETE", path, token=team["member"].token).status == 204
    assert api("GET", path, token=team["member"].token).status == 404
    actions = [
        r[0]
        for r in db.execute(
            "SELECT action FROM audit_log WHERE target_id = %s ORDER BY id", (body["id"],)
        ).fetchall()
    ]
    assert actions == ["alert_rule.created", "alert_rule.updated", "alert_rule.deleted"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"condition": {"kind": "threshold"}}, "body.condition.threshold.threshold"),
        ({"condition": {"kind": "nope"}}, "body.condition"),
        (
            {"condition": {"kind": "threshold", "threshold": 1, "x": 1}},
            "body.condition.threshold.x",
        ),
        (
            {
                "condition": {
                    "kind": "threshold",
                    "threshold": 1,
                    "metric": "unique_users",
                    "filter": {"type": "error"},
                }
            },
            "body.condition.threshold",
        ),
        ({"window_seconds": 59}, "body.window_seconds"),
        ({"window_seconds": 90}, "body.window_seconds"),
        ({"cooldown_seconds": 0}, "body.cooldown_seconds"),
        ({"snoozed_until": "2030-01-01T00:00:00"}, "body.snoozed_until"),
        ({"channel_ids": ["00000000-0000-0000-0000-000000000001"]}, "body.channel_ids"),
        (
            {
                "condition": {
                    "kind": "regression",
                    "issue_id": "00000000-0000-0000-0000-000000000001",
                }
            },
            "body.condition.issue_id",
        ),
        (
            {"condition": {"kind": "error_rate", "percent": 101}},
            "body.condition.error_rate.percent",
        ),
        (
            {
                "condition": {
                    "kind": "error_rate",
                    "percent": 5,
                    "release": "1",
                    "per_release": True,
                }
            },
            "body.condition.error_rate",
        ),
    ],
)
def test_bad_rules_are_422_naming_the_field(
    api: ApiCaller, team: dict[str, Any], change: dict[str, Any], field: str
) -> None:
    rule = {"name": "r", "condition": {"kind": "absence"}, **change}
    reply = api("POST", f"{base(team)}/rules", token=team["member"].token, json=rule)
    assert reply.status == 422, reply.body
    assert reply.error["field"] == field, reply.error


def test_a_channel_of_another_project_cannot_be_used(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    channel = slack_channel(api, team)
    other = api(
        "POST",
        "/api/projects",
        token=team["owner"].token,
        json={"organization_id": str(team["org"]), "name": "other"},
    ).body
    reply = api(
        "POST",
        f"/api/projects/{other['id']}/alerts/rules",
        token=team["owner"].token,
        json={"name": "r", "condition": {"kind": "new_issue"}, "channel_ids": [channel["id"]]},
    )
    assert reply.status == 422 and reply.error["field"] == "body.channel_ids"
    assert (
        api(
            "GET",
            f"/api/projects/{other['id']}/alerts/channels/{channel['id']}",
            token=team["owner"].token,
        ).status
        == 404
    )


def test_the_alert_api_is_in_the_openapi_document(api: ApiCaller) -> None:
    document = api("GET", "/api/openapi.json").body
    paths = document["paths"]
    for path in (
        "/api/projects/{project_id}/alerts/rules",
        "/api/projects/{project_id}/alerts/rules/{alert_rule_id}",
        "/api/projects/{project_id}/alerts/rules/{alert_rule_id}/history",
        "/api/projects/{project_id}/alerts/channels",
        "/api/projects/{project_id}/alerts/channels/{alert_channel_id}",
        "/api/projects/{project_id}/alerts/channels/{alert_channel_id}/test",
    ):
        assert path in paths, path
    assert "secret" not in document["components"]["schemas"]["ChannelPublic"]["properties"]


def test_a_test_notification_is_sent_now_and_reported(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    with receiver() as hook:
        created = api(
            "POST",
            f"{base(team)}/channels",
            token=team["admin"].token,
            json={
                "name": "relay",
                "type": "webhook",
                "secret": {"url": f"{hook.url}/alerts", "signing_secret": "s" * 24},
            },
        )
        assert created.status == 201, created.body
        path = f"{base(team)}/channels/{created.body['id']}/test"
        assert api("POST", path, token=team["viewer"].token).status == 403
        reply = api("POST", path, token=team["member"].token)
        assert reply.status == 200, reply.body
        (got,) = hook.requests
    assert got.json()["kind"] == "test" and got.json()["project_name"] == "shop"
    (delivery,) = reply.body["deliveries"]
    assert delivery["status"] == "sent" and delivery["response_code"] == 200
    assert delivery["channel_id"] == created.body["id"]


def test_history_lists_firings_with_their_deliveries(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection, alert_settings: Settings
) -> None:
    from datetime import UTC, datetime

    from logsight.alerting.engine import AlertEngine
    from logsight.query.alerts import due_rules

    with receiver(lambda request, count: (503, {}, b"busy")) as hook:
        channel = api(
            "POST",
            f"{base(team)}/channels",
            token=team["admin"].token,
            json={"name": "ops", "type": "slack", "secret": {"url": hook.url}},
        ).body
        rule = api(
            "POST",
            f"{base(team)}/rules",
            token=team["member"].token,
            json={
                "name": "No heartbeat",
                "condition": {"kind": "absence", "filter": {"name": "beat"}},
                "channel_ids": [channel["id"]],
            },
        ).body
        now = datetime.now(UTC)
        # This rule alone: other tests' rules share the session's database.
        (row,) = [r for r in due_rules(db, now) if str(r["id"]) == rule["id"]]
        engine = AlertEngine(alert_settings)
        notification = engine.evaluate_rule(db, row, now).notification
        assert notification is not None
        engine.deliverer.run(db, [notification])
    reply = api("GET", f"{base(team)}/rules/{rule['id']}/history", token=team["viewer"].token)
    assert reply.status == 200, reply.body
    (entry,) = reply.body["data"]
    assert entry["kind"] == "firing" and "no events (name=beat)" in entry["summary"]
    (delivery,) = entry["deliveries"]
    assert delivery["status"] == "failed" and delivery["response_code"] == 503
    assert delivery["attempts"] == 3
    assert (
        api("GET", f"{base(team)}/rules/{rule['id']}", token=team["viewer"].token).body["state"]
        == "firing"
    )
