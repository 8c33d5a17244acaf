"""Microsoft Teams webhook (Workflows "post to a channel when a webhook request is received",
and the older connectors): a message with one Adaptive Card."""

from __future__ import annotations

from typing import Any

from logsight.alerting.channels.base import ChannelSpec, NoSettings, Outgoing, UrlSecret, json_post
from logsight.alerting.channels.base import numbers as shown_numbers
from logsight.alerting.message import Notice
from logsight.config import Settings


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": notice.title,
            "weight": "Bolder",
            "size": "Medium",
            "color": "Good" if notice.resolved else "Attention",
            "wrap": True,
        },
        *(
            {"type": "TextBlock", "text": entry.summary, "wrap": True}
            for entry in notice.entries[:20]
        ),
    ]
    facts = [{"title": k, "value": v} for k, v in shown_numbers(notice)]
    if facts:
        body.append({"type": "FactSet", "facts": facts})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": "Open in LogSight", "url": notice.link}],
    }
    return json_post(
        secret["url"],
        {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
            ],
        },
    )


SPEC = ChannelSpec("teams", NoSettings, UrlSecret, render)
