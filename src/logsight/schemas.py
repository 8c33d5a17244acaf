"""The event as applications send it (LogSight native JSON), validated with pydantic v2.

The published JSON Schema (docs/event.schema.json) is generated from these models.
"""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

NAME_MAX_CHARS = 256
SHORT_TEXT_MAX_CHARS = 256


class EventType(StrEnum):
    EVENT = "event"
    ERROR = "error"
    PAGEVIEW = "pageview"
    LOG = "log"


class Level(StrEnum):
    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    FATAL = "fatal"


# Spellings other tools use for the same levels.
LEVEL_ALIASES = {"warn": "warning", "critical": "fatal", "err": "error", "trace": "debug"}


class _Open(BaseModel):
    """Known fields are typed; anything else the client sends is kept as is."""

    model_config = ConfigDict(extra="allow")


class StackFrame(_Open):
    filename: str | None = None
    function: str | None = None
    module: str | None = None
    lineno: int | None = Field(default=None, ge=0)
    colno: int | None = Field(default=None, ge=0)
    in_app: bool | None = None


class Stacktrace(_Open):
    frames: list[StackFrame] = Field(default_factory=list, max_length=500)


class ErrorInfo(_Open):
    type: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    value: str | None = None
    stacktrace: Stacktrace | None = None


class UserInfo(_Open):
    id: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    email: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    username: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)

    @field_validator("id", mode="before")
    @classmethod
    def _numeric_ids_are_ids(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        return value


class EventContext(_Open):
    url: str | None = None
    referrer: str | None = None
    user_agent: str | None = None
    locale: str | None = Field(default=None, max_length=64)
    screen: str | dict[str, Any] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    title: str | None = None


class SdkInfo(_Open):
    name: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    version: str | None = Field(default=None, max_length=64)


class IncomingEvent(BaseModel):
    """One event. Unknown top-level fields are ignored so older servers accept newer SDKs."""

    model_config = ConfigDict(extra="ignore", title="LogSightEvent")

    type: EventType = EventType.EVENT
    name: str | None = Field(default=None, min_length=1, max_length=NAME_MAX_CHARS)
    timestamp: str | int | float | None = Field(
        default=None, description="ISO 8601 (UTC when no offset is given) or epoch milliseconds."
    )
    event_id: uuid.UUID | None = Field(default=None, description="Made at ingest when absent.")
    level: Level | None = None
    message: str | None = None
    properties: dict[str, Any] = Field(default_factory=dict)
    user: UserInfo | None = None
    session_id: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    context: EventContext | None = None
    release: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    environment: str | None = Field(default=None, max_length=SHORT_TEXT_MAX_CHARS)
    error: ErrorInfo | None = None
    sdk: SdkInfo | None = None
    fingerprint: list[str] | None = Field(
        default=None, max_length=16, description="Overrides error grouping when given."
    )
    breadcrumbs: list[dict[str, Any]] | None = Field(
        default=None, max_length=200, description="What happened before this event, oldest first."
    )

    @field_validator("level", mode="before")
    @classmethod
    def _level_aliases(cls, value: Any) -> Any:
        if isinstance(value, str):
            lowered = value.strip().lower()
            return LEVEL_ALIASES.get(lowered, lowered)
        return value

    @field_validator("timestamp", mode="before")
    @classmethod
    def _no_booleans(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("timestamp must be an ISO 8601 string or epoch milliseconds")
        return value


class EventBatch(BaseModel):
    model_config = ConfigDict(title="LogSightEventBatch")

    events: list[IncomingEvent]
