"""E-mail: recipients are shown (not secret); the transport is the operator's (SMTP locally,
Amazon SES on AWS), so no user-given address is ever connected to."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from logsight.alerting.channels.base import ChannelSpec, Email, NoSettings, Outgoing, Strict
from logsight.alerting.message import Notice
from logsight.config import Settings

Address = Annotated[
    str, Field(min_length=3, max_length=320, pattern=r"^[^@\s<>,;]+@[^@\s<>,;]+\.[^@\s<>,;]+$")
]


class EmailSettings(Strict):
    to: list[Address] = Field(min_length=1, max_length=20, description="Recipients.")


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> Outgoing:
    return Email(list(config["to"]), notice.title[:200], notice.text())


SPEC = ChannelSpec("email", EmailSettings, NoSettings, render, secret_required=False)
