"""Slack incoming webhook: a Block Kit message (header, what fired, the numbers, a link)."""

from __future__ import annotations

from typing import Any

from logsight.alerting.channels.base import ChannelSpec, NoSettings, Outgoing, UrlSecret, json_post
from logsight.alerting.channels.base import numbers as shown_numbers
from logsight.alerting.message import Notice
from logsight.config import Settings


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": notice.title[:150]}},
    ]
    for entry in notice.entries[:20]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": entry.summary}})
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in shown_numbers(notice)]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append(
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"{notice.project_name} · <{notice.link}|Open in LogSight>",
                }
            ],
        }
    )
    # `text` is the notification's fallback (push notifications, screen readers).
    return json_post(secret["url"], {"text": notice.title, "blocks": blocks})


SPEC = ChannelSpec("slack", NoSettings, UrlSecret, render)
