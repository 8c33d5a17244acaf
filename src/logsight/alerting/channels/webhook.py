"""Generic webhook: the notice as JSON, signed.

Headers: ``X-LogSight-Timestamp`` (Unix seconds) and ``X-LogSight-Signature: v1=<hex>``, the
HMAC-SHA256 of ``"<timestamp>.<body>"`` under the channel's signing secret. A receiver recomputes
it over the raw body and refuses old timestamps (docs/alerts.md has the code).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import orjson
from pydantic import Field

from logsight.alerting.channels.base import ChannelSpec, HttpPost, HttpUrl, NoSettings, Strict
from logsight.alerting.message import Notice
from logsight.config import Settings

TIMESTAMP_HEADER = "x-logsight-timestamp"
SIGNATURE_HEADER = "x-logsight-signature"


class WebhookSecret(Strict):
    url: HttpUrl = Field(description="Where the JSON is posted (write-only).")
    signing_secret: str = Field(
        min_length=16, max_length=256, description="Key of the HMAC-SHA256 signature."
    )


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def render(
    notice: Notice, config: dict[str, Any], secret: dict[str, Any], settings: Settings
) -> HttpPost:
    body = orjson.dumps(notice.model_dump(mode="json"))
    timestamp = str(int(time.time()))
    return HttpPost(
        secret["url"],
        body,
        {
            "content-type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(secret["signing_secret"], timestamp, body),
        },
    )


SPEC = ChannelSpec("webhook", NoSettings, WebhookSecret, render)
