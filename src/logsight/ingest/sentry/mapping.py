"""Sentry event and log payloads → LogSight events (the native JSON, before normalization).

SDKs differ: timestamps are ISO strings (Python) or float seconds (Node); breadcrumbs come as
``{"values": [...]}`` or a bare array; ``message`` is a string or ``{formatted, message,
params}``; tags are an object or a list of pairs. All of them land in one shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

MAX_FRAMES = 250
MAX_BREADCRUMBS = 100
_FRAME_FIELDS = (
    "filename",
    "abs_path",
    "function",
    "module",
    "lineno",
    "colno",
    "in_app",
    "context_line",
    "pre_context",
    "post_context",
    "vars",
    "platform",
    "package",
    "instruction_addr",
)
_DROPPED_HEADERS = frozenset({"cookie", "authorization", "x-sentry-auth", "proxy-authorization"})
_LEVELS = {"log": "info", "trace": "debug", "warn": "warning", "critical": "fatal"}
_CONTEXT_KEYS = (
    "browser",
    "os",
    "device",
    "runtime",
    "app",
    "trace",
    "culture",
    "gpu",
    "cloud_resource",
)


def _timestamp(value: Any) -> str | int | float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, UTC).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return value if isinstance(value, str) else None


def _values(container: Any) -> list[Any]:
    """``{"values": [...]}`` or a bare list (both forms are in use)."""
    if isinstance(container, dict):
        container = container.get("values")
    return [v for v in container if v is not None] if isinstance(container, list) else []


def _message(event: dict[str, Any]) -> str | None:
    message = event.get("message")
    if isinstance(message, dict):
        return message.get("formatted") or message.get("message")
    if isinstance(message, str) and message:
        return message
    entry = event.get("logentry")
    if isinstance(entry, dict):
        return entry.get("formatted") or entry.get("message")
    return None


def _frames(stacktrace: Any) -> list[dict[str, Any]]:
    frames = _values(stacktrace.get("frames")) if isinstance(stacktrace, dict) else []
    # Frames run from the outermost call to the crash site; keep the crash site's end.
    return [
        {k: frame[k] for k in _FRAME_FIELDS if frame.get(k) is not None}
        for frame in frames[-MAX_FRAMES:]
        if isinstance(frame, dict)
    ]


def _exception(value: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": value.get("type"),
        "value": value.get("value"),
        "module": value.get("module"),
        "mechanism": value.get("mechanism"),
    }
    frames = _frames(value.get("stacktrace") or {})
    if frames:
        out["stacktrace"] = {"frames": frames}
    return {k: v for k, v in out.items() if v is not None}


def _tags(tags: Any) -> dict[str, str]:
    if isinstance(tags, dict):
        return {str(k): str(v) for k, v in tags.items() if v is not None}
    if isinstance(tags, list):
        return {str(p[0]): str(p[1]) for p in tags if isinstance(p, list | tuple) and len(p) == 2}
    return {}


def _headers(headers: Any) -> dict[str, str]:
    pairs = (
        headers.items()
        if isinstance(headers, dict)
        else headers
        if isinstance(headers, list)
        else []
    )
    out: dict[str, str] = {}
    for pair in pairs:
        if isinstance(pair, list | tuple) and len(pair) == 2 and pair[0] is not None:
            name = str(pair[0])
            if name.lower() not in _DROPPED_HEADERS:
                out[name] = str(pair[1])
    return out


def _level(value: Any, default: str) -> str:
    if not isinstance(value, str) or not value:
        return default
    lowered = value.lower()
    return _LEVELS.get(lowered, lowered)


def _user(user: Any) -> dict[str, Any] | None:
    if not isinstance(user, dict) or not user:
        return None
    mapped = {k: v for k, v in user.items() if v is not None}
    if "id" in mapped and not isinstance(mapped["id"], str):
        mapped["id"] = str(mapped["id"])
    return mapped


def _sourcemap_images(debug_meta: Any) -> list[dict[str, str]]:
    """The debug ids of the event's JavaScript files (sentry-cli's injected ``debugId``), which
    the processor resolves frames with."""
    images = debug_meta.get("images") if isinstance(debug_meta, dict) else None
    return [
        {"type": "sourcemap", "code_file": image["code_file"], "debug_id": image["debug_id"]}
        for image in (images if isinstance(images, list) else [])[:MAX_FRAMES]
        if isinstance(image, dict)
        and image.get("type") == "sourcemap"
        and isinstance(image.get("code_file"), str)
        and isinstance(image.get("debug_id"), str)
    ]


def map_event(event: dict[str, Any], *, sdk_header: dict[str, Any] | None = None) -> dict[str, Any]:
    """A Sentry event → a LogSight error event, so an issue, whatever its level (as in Sentry:
    ``capture_message`` at info is an issue at info). Only ``log`` items are logs (map_logs)."""
    exceptions = [_exception(v) for v in _values(event.get("exception")) if isinstance(v, dict)]
    message = _message(event)
    # Sentry's default level for events.
    level = _level(event.get("level"), "error")

    context: dict[str, Any] = {}
    raw_contexts = event.get("contexts")
    contexts: dict[str, Any] = raw_contexts if isinstance(raw_contexts, dict) else {}
    for key in _CONTEXT_KEYS:
        if isinstance(contexts.get(key), dict):
            context[key] = contexts[key]
    for key in ("platform", "logger", "server_name", "transaction", "culprit", "dist"):
        if isinstance(event.get(key), str) and event[key]:
            context[key] = event[key]
    images = _sourcemap_images(event.get("debug_meta"))
    if images:
        context["debug_meta"] = {"images": images}
    if isinstance(event.get("extra"), dict) and event["extra"]:
        context["extra"] = event["extra"]
    raw_request = event.get("request")
    request: dict[str, Any] = raw_request if isinstance(raw_request, dict) else {}
    if request:
        headers = _headers(request.get("headers"))
        if isinstance(request.get("url"), str):
            context["url"] = request["url"]
        agent = next((v for k, v in headers.items() if k.lower() == "user-agent"), None)
        if agent:
            context["user_agent"] = agent
        context["request"] = {
            k: v
            for k, v in {
                "method": request.get("method"),
                "url": request.get("url"),
                "query_string": request.get("query_string"),
                "headers": headers or None,
            }.items()
            if v
        }

    mapped: dict[str, Any] = {
        "type": "error",
        "level": level,
        "message": message or (exceptions[-1].get("value") if exceptions else None),
        "timestamp": _timestamp(event.get("timestamp")),
        "properties": _tags(event.get("tags")),
        "context": context or None,
        "user": _user(event.get("user")),
        "release": event.get("release") if isinstance(event.get("release"), str) else None,
        "environment": event.get("environment")
        if isinstance(event.get("environment"), str)
        else None,
        "breadcrumbs": [b for b in _values(event.get("breadcrumbs")) if isinstance(b, dict)][
            -MAX_BREADCRUMBS:
        ]
        or None,
    }
    if isinstance(event.get("event_id"), str):
        mapped["event_id"] = event["event_id"]
    sdk = event.get("sdk") if isinstance(event.get("sdk"), dict) else sdk_header
    if isinstance(sdk, dict) and sdk.get("name"):
        mapped["sdk"] = {"name": sdk.get("name"), "version": sdk.get("version")}
    fingerprint = event.get("fingerprint")
    if isinstance(fingerprint, list) and fingerprint and "{{ default }}" not in fingerprint:
        mapped["fingerprint"] = [str(part) for part in fingerprint][:16]
    primary = exceptions[-1] if exceptions else {"type": None, "value": message}
    error = dict(primary)
    if len(exceptions) > 1:
        error["chain"] = exceptions[:-1]
    mapped["error"] = error
    mapped["name"] = primary.get("type") or (message or "Error")[:200]
    return {k: v for k, v in mapped.items() if v is not None}


def map_logs(payload: Any) -> list[dict[str, Any]]:
    """A ``log`` item (``{"items": [...]}``) → log events."""
    records = (
        payload.get("items") if isinstance(payload, dict) and "items" in payload else [payload]
    )
    events = []
    for record in records if isinstance(records, list) else []:
        if not isinstance(record, dict):
            continue
        raw_attributes = record.get("attributes")
        attributes: dict[str, Any] = raw_attributes if isinstance(raw_attributes, dict) else {}
        flat = {
            str(k): (v.get("value") if isinstance(v, dict) and "value" in v else v)
            for k, v in attributes.items()
        }
        event: dict[str, Any] = {
            "type": "log",
            "name": str(flat.pop("logger.name", None) or flat.get("sentry.origin") or "log")[:200],
            "level": _level(record.get("level"), "info"),
            "message": record.get("body") if isinstance(record.get("body"), str) else None,
            "timestamp": _timestamp(record.get("timestamp")),
            "release": flat.pop("sentry.release", None),
            "environment": flat.pop("sentry.environment", None),
            "properties": flat,
        }
        if isinstance(record.get("trace_id"), str):
            event["context"] = {"trace": {"trace_id": record["trace_id"]}}
        events.append({k: v for k, v in event.items() if v is not None})
    return events
