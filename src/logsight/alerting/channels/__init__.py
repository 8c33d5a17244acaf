"""One module per channel type; ``SPECS`` maps a type to its module's description."""

from __future__ import annotations

from logsight.alerting.channels import (
    discord,
    email,
    pagerduty,
    slack,
    teams,
    telegram,
    webhook,
)
from logsight.alerting.channels.base import ChannelSpec

SPECS: dict[str, ChannelSpec] = {
    spec.name: spec
    for spec in (
        slack.SPEC,
        discord.SPEC,
        teams.SPEC,
        telegram.SPEC,
        pagerduty.SPEC,
        webhook.SPEC,
        email.SPEC,
    )
}
CHANNEL_TYPES = tuple(SPECS)
