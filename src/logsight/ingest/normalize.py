"""One raw JSON event → a normalized event, or a precise reason why not.

Normalization happens at ingest, before queueing, so the message is final: the timestamp is
fixed (clamped, original kept) and the event id exists, which makes redelivery harmless.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from logsight.event import NormalizedEvent
from logsight.schemas import EventType, IncomingEvent, Level

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Limits:
    max_event_bytes: int
    max_json_depth: int
    max_properties: int
    max_string_bytes: int
    max_past: timedelta
    max_future: timedelta


@dataclass(frozen=True, slots=True)
class EventRejection:
    index: int
    code: str
    field: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "code": self.code,
            "field": self.field,
            "message": self.message,
        }


class _Reject(Exception):
    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code, self.field, self.message = code, field, message


def _join(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def _clean_string(value: str, path: str, limit: int, truncated: dict[str, int]) -> str:
    if "\x00" in value:
        value = value.replace("\x00", "")
    # Cheap pre-check: a str of n chars is at most 4n UTF-8 bytes.
    if len(value) * 4 <= limit:
        return value
    encoded = value.encode("utf-8", "surrogatepass")
    if len(encoded) <= limit:
        return value
    truncated[path] = len(encoded)
    return encoded[:limit].decode("utf-8", "ignore")


def _path(parts: list[str | int]) -> str:
    path = ""
    for part in parts:
        path = _join(path, part)
    return path


def _too_deep(parts: list[str | int], limits: Limits) -> _Reject:
    return _Reject("too_deep", _path(parts), f"nesting deeper than {limits.max_json_depth}")


def check_depth(raw: Any, limits: Limits) -> None:
    """Only the nesting bound, for events that need nothing else (see ``sanitize``)."""
    parts: list[str | int] = []

    def walk(value: Any, depth: int) -> None:
        if isinstance(value, dict):
            if depth > limits.max_json_depth:
                raise _too_deep(parts, limits)
            for key, item in value.items():
                if isinstance(item, dict | list):
                    parts.append(key)
                    walk(item, depth + 1)
                    parts.pop()
        elif isinstance(value, list):
            if depth > limits.max_json_depth:
                raise _too_deep(parts, limits)
            for index, item in enumerate(value):
                if isinstance(item, dict | list):
                    parts.append(index)
                    walk(item, depth + 1)
                    parts.pop()

    walk(raw, 1)


def sanitize(
    raw: Any, limits: Limits, serialized: bytes | None = None
) -> tuple[Any, dict[str, int]]:
    """Strip NULs, trim long strings (recording original byte lengths), bound nesting depth.

    With the event's JSON at hand, most events take a fast path: when the whole document is
    shorter than the string limit and holds no escaped NUL, nothing can need trimming or
    stripping, and only the depth is checked (no copy is made)."""
    if (
        serialized is not None
        and len(serialized) <= limits.max_string_bytes
        and b"\\u0000" not in serialized
    ):
        check_depth(raw, limits)
        return raw, {}
    truncated: dict[str, int] = {}
    # Paths are built only when something is reported: most values never need theirs.
    parts: list[str | int] = []

    def walk(value: Any, depth: int) -> Any:
        if isinstance(value, str):
            if "\x00" in value or len(value) * 4 > limits.max_string_bytes:
                return _clean_string(value, _path(parts), limits.max_string_bytes, truncated)
            return value
        if isinstance(value, dict):
            if depth > limits.max_json_depth:
                raise _too_deep(parts, limits)
            cleaned: dict[str, Any] = {}
            for key, item in value.items():
                clean_key = key.replace("\x00", "") if "\x00" in key else key
                parts.append(clean_key)
                cleaned[clean_key] = walk(item, depth + 1)
                parts.pop()
            return cleaned
        if isinstance(value, list):
            if depth > limits.max_json_depth:
                raise _too_deep(parts, limits)
            items = []
            for index, item in enumerate(value):
                parts.append(index)
                items.append(walk(item, depth + 1))
                parts.pop()
            return items
        return value

    return walk(raw, 1), truncated


def parse_timestamp(value: str | int | float) -> datetime | None:
    """ISO 8601 (naive means UTC) or epoch milliseconds; None for an impossible instant."""
    if isinstance(value, str):
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError as exc:
            raise _Reject(
                "invalid_timestamp", "timestamp", "timestamp must be ISO 8601 or epoch milliseconds"
            ) from exc
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    if not math.isfinite(value):
        raise _Reject("invalid_timestamp", "timestamp", "timestamp must be a finite number")
    try:
        return _EPOCH + timedelta(milliseconds=value)
    except OverflowError:
        return None


def _fix_timestamp(
    raw: str | int | float | None, received_at: datetime, limits: Limits, meta: dict[str, Any]
) -> datetime:
    if raw is None:
        return received_at
    parsed = parse_timestamp(raw)
    earliest, latest = received_at - limits.max_past, received_at + limits.max_future
    if parsed is not None and earliest <= parsed <= latest:
        return parsed
    meta["original_timestamp"] = raw
    if parsed is None:
        return latest if isinstance(raw, int | float) and raw > 0 else earliest
    return min(max(parsed, earliest), latest)


def _default_name(event: IncomingEvent) -> str:
    if event.type is EventType.ERROR:
        if event.error is not None and event.error.type:
            return event.error.type
        return "Error"
    if event.type is EventType.PAGEVIEW:
        return "pageview"
    if event.type is EventType.LOG:
        return "log"
    raise _Reject("missing_field", "name", "name is required for events of type 'event'")


def _validation_reject(exc: ValidationError) -> _Reject:
    first = exc.errors(include_url=False)[0]
    field = ""
    for part in first["loc"]:
        field = _join(field, part)
    return _Reject("invalid_field", field or "event", first["msg"])


def normalize_event(raw: Any, *, received_at: datetime, limits: Limits) -> NormalizedEvent:
    """Return the event as it will be queued; raise _Reject naming the field at fault."""
    if not isinstance(raw, dict):
        raise _Reject("invalid_event", "", "an event must be a JSON object")
    serialized = orjson.dumps(raw)
    size = len(serialized)
    if size > limits.max_event_bytes:
        raise _Reject(
            "event_too_large", "", f"event is {size} bytes, the limit is {limits.max_event_bytes}"
        )
    cleaned, truncated = sanitize(raw, limits, serialized)
    properties = cleaned.get("properties")
    if isinstance(properties, dict) and len(properties) > limits.max_properties:
        raise _Reject(
            "too_many_properties",
            "properties",
            f"{len(properties)} properties, the limit is {limits.max_properties}",
        )
    try:
        event = IncomingEvent.model_validate(cleaned)
    except ValidationError as exc:
        raise _validation_reject(exc) from exc

    meta: dict[str, Any] = {}
    if truncated:
        meta["truncated"] = truncated
    timestamp = _fix_timestamp(event.timestamp, received_at, limits, meta)
    level = event.level or (Level.ERROR if event.type is EventType.ERROR else Level.INFO)

    def dump(model: Any) -> Any:
        return None if model is None else model.model_dump(mode="json", exclude_none=True)

    user = dump(event.user)
    return {
        "event_id": str(event.event_id or uuid.uuid4()),
        "type": event.type.value,
        "name": event.name or _default_name(event),
        "timestamp": timestamp.isoformat(),
        "level": level.value,
        "message": event.message,
        "properties": event.properties,
        "user": user,
        "user_id": event.user.id if event.user is not None else None,
        "session_id": event.session_id,
        "context": dump(event.context),
        "release": event.release,
        "environment": event.environment,
        "error": dump(event.error),
        "sdk": dump(event.sdk),
        "fingerprint": event.fingerprint,
        "breadcrumbs": event.breadcrumbs,
        "meta": meta,
    }


def normalize_batch(
    raw_events: list[Any], *, received_at: datetime, limits: Limits
) -> tuple[list[NormalizedEvent], list[EventRejection]]:
    accepted: list[NormalizedEvent] = []
    rejected: list[EventRejection] = []
    for index, raw in enumerate(raw_events):
        try:
            accepted.append(normalize_event(raw, received_at=received_at, limits=limits))
        except _Reject as reject:
            rejected.append(EventRejection(index, reject.code, reject.field, reject.message))
    return accepted, rejected
