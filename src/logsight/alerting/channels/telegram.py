"""Telegram bot: sendMessage to a chat; the bot token is the secret, the chat id is shown."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from logsight.alerting.channels.base import ChannelSpec, Outgoing, Strict, json_post
from logsight.alerting.message import Notice
from logsight.config import Settings


class TelegramSettings(Strict):
    chat_id: str = Field(
        min_length=1,
        max_length=64,
        pattern=r"^(-?\d{1,20}|@[A-Za-z][A-Za-z0-9_]{3,62})$",
        description="A numeric chat id, or @channelusername.",
    )


class TelegramSecret(Strict):
    bot_token: str = Field(
        pattern=r"^\d{1,20}:[A-Za-z0-9_-]{20,100}$",
        description="The bot's token from @BotFather (write-only).",
    )


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    url = f"{settings.alerts_telegram_url.rstrip('/')}/bot{secret['bot_token']}/sendMessage"
    return json_post(
        url,
        {
            "chat_id": config["chat_id"],
            # Plain text: event data in the summary cannot break a markup parse.
            "text": notice.text()[:4096],
            "link_preview_options": {"is_disabled": True},
        },
    )


SPEC = ChannelSpec("telegram", TelegramSettings, TelegramSecret, render)
