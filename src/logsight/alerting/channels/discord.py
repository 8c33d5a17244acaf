"""Discord webhook: one embed, red while firing, green once resolved."""

from __future__ import annotations

from typing import Any

from logsight.alerting.channels.base import ChannelSpec, NoSettings, Outgoing, UrlSecret, json_post
from logsight.alerting.channels.base import numbers as shown_numbers
from logsight.alerting.message import Notice
from logsight.config import Settings

RED, GREEN = 0xD92D20, 0x12B76A


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    embed = {
        "title": notice.title[:256],
        "description": "\n".join(entry.summary for entry in notice.entries)[:4000],
        "url": notice.link,
        "color": GREEN if notice.resolved else RED,
        "fields": [{"name": k, "value": v, "inline": True} for k, v in shown_numbers(notice)],
        "footer": {"text": notice.project_name[:2048]},
        "timestamp": notice.at.isoformat(),
    }
    # No mentions from a message whose text comes partly from event data.
    return json_post(secret["url"], {"embeds": [embed], "allowed_mentions": {"parse": []}})


SPEC = ChannelSpec("discord", NoSettings, UrlSecret, render)
