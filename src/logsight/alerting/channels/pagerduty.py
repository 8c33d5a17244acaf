"""PagerDuty Events API v2: trigger while firing, resolve when resolved, one incident per rule
(the dedup key is the rule's id)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from logsight.alerting.channels.base import ChannelSpec, Outgoing, Strict, json_post
from logsight.alerting.message import Notice
from logsight.config import Settings


class PagerDutySettings(Strict):
    severity: Literal["critical", "error", "warning", "info"] = "error"


class PagerDutySecret(Strict):
    routing_key: str = Field(
        pattern=r"^[A-Za-z0-9]{32}$", description="The integration key (write-only)."
    )


def dedup_key(notice: Notice) -> str:
    return f"logsight-{notice.rule_id or notice.id}"


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    event: dict[str, Any] = {
        "routing_key": secret["routing_key"],
        "dedup_key": dedup_key(notice),
        "event_action": "resolve" if notice.resolved else "trigger",
    }
    if not notice.resolved:
        event["payload"] = {
            "summary": notice.title[:1024],
            "source": f"logsight/{notice.project_name}"[:255],
            "severity": config.get("severity", "error"),
            "timestamp": notice.at.isoformat(),
            "custom_details": {
                "project": notice.project_name,
                "rule": notice.rule_name,
                "entries": [entry.summary for entry in notice.entries[:20]],
            },
        }
        event["links"] = [{"href": notice.link, "text": "Open in LogSight"}]
    return json_post(settings.alerts_pagerduty_url, event)


SPEC = ChannelSpec("pagerduty", PagerDutySettings, PagerDutySecret, render)
