"""What a channel module provides: its visible settings, its write-only secret, and how a notice
becomes a request (an HTTP POST, or an e-mail)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from logsight.alerting.message import Notice
from logsight.config import Settings


def _http_url(value: str) -> str:
    # Only the form is checked here; where it may connect is decided on every send
    # (logsight.alerting.http), on the address it resolves to at that moment.
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials")
    return value


HttpUrl = Annotated[str, Field(min_length=8, max_length=2048), AfterValidator(_http_url)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoSettings(Strict):
    pass


class UrlSecret(Strict):
    url: HttpUrl = Field(description="The incoming-webhook URL (write-only).")


@dataclass(frozen=True, slots=True)
class HttpPost:
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Email:
    to: list[str]
    subject: str
    text: str


Outgoing = HttpPost | Email


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    name: str
    config: type[Strict]
    secret: type[Strict]
    render: Callable[[Notice, dict[str, Any], dict[str, Any], Settings], Outgoing]
    # A channel whose request is fully decided by the operator's settings (e-mail) never
    # takes a user's URL.
    secret_required: bool = True


def json_post(url: str, document: Any, headers: dict[str, str] | None = None) -> HttpPost:
    import orjson

    return HttpPost(
        url,
        orjson.dumps(document),
        {"content-type": "application/json", **(headers or {})},
    )


def numbers(notice: Notice) -> list[tuple[str, str]]:
    """(label, value) pairs shown by channels with fields: the first entry's numbers."""
    if not notice.entries:
        return []
    entry = notice.entries[0]
    shown = []
    if entry.value is not None:
        shown.append(("Value", f"{entry.value:g}"))
    if entry.threshold is not None:
        shown.append(("Threshold", f"{entry.threshold:g}"))
    return shown
