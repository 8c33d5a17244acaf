"""Error fingerprints: which errors are "the same problem".

In order of preference: the client's own fingerprint; the normalized in-app stack (module or
file, and function, of each in-app frame — line numbers, content hashes and version segments
ignored, so a redeploy does not split an issue); the exception type with its message
normalized (numbers, UUIDs, hex ids and quoted values replaced); the message alone.

A message event is grouped by its message: it has no exception, or only a synthetic one (an
SDK's way to carry the call stack of ``captureMessage``, as @sentry/node does), whose stack
says where a message was sent from rather than what went wrong.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from logsight.event import NormalizedEvent

_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`")
_NUMBER = re.compile(r"(?<![A-Za-z_])[-+]?\d+(?:\.\d+)?")

# In file names: content hashes (main.4f3a2b1c.js, chunk-5e8d9.js), versions (v1.2.3, @1.2.3).
_FILE_HASH = re.compile(r"[.\-_](?=[0-9a-f]*\d)[0-9a-f]{5,}(?=\.)", re.IGNORECASE)
_VERSION_SEGMENT = re.compile(r"(?:^|/)v?\d+(?:\.\d+)+(?=/|$)")
_AT_VERSION = re.compile(r"@\d+(?:\.\d+)*(?:-[\w.]+)?")
_URL_PREFIX = re.compile(r"^[a-z][a-z0-9+.\-]*://[^/]*", re.IGNORECASE)
_QUERY = re.compile(r"[?#].*$")
_NODE_MODULES = re.compile(r"^.*?node_modules/")
# Function names as engines spell them: "Object.pay" (V8), "pay/<" (Firefox), "async pay".
_FUNCTION_NOISE = re.compile(r"^(?:async |new |Object\.|Module\.)+|(?:/<)+$")


def normalize_message(message: str) -> str:
    message = _UUID.sub("<uuid>", message)
    message = _HEX.sub("<hex>", message)
    message = _QUOTED.sub("<str>", message)
    return _NUMBER.sub("<n>", message).strip()


def normalize_filename(filename: str) -> str:
    name = _QUERY.sub("", _URL_PREFIX.sub("", filename.replace("\\", "/")))
    name = _NODE_MODULES.sub("node_modules/", name)
    name = _AT_VERSION.sub("", name)
    name = _VERSION_SEGMENT.sub("", name)
    name = _FILE_HASH.sub("", name)
    return re.sub(r"^(?:\./|/)+", "", name)


def normalize_function(function: str) -> str:
    return _FUNCTION_NOISE.sub("", function.strip())


def _frame_key(frame: dict[str, Any]) -> str | None:
    module = frame.get("module")
    filename = frame.get("filename") or frame.get("abs_path")
    where = str(module) if module else normalize_filename(str(filename)) if filename else ""
    function = normalize_function(str(frame.get("function") or ""))
    if function in ("", "?", "<anonymous>", "anonymous"):
        function = ""
    if not where and not function:
        return None
    return f"{where}:{function}"


def _frames(error: dict[str, Any]) -> list[dict[str, Any]]:
    stacktrace = error.get("stacktrace") or {}
    frames = stacktrace.get("frames") if isinstance(stacktrace, dict) else None
    return [f for f in frames or [] if isinstance(f, dict)]


def in_app_frames(error: dict[str, Any]) -> list[dict[str, Any]]:
    """The frames that belong to the application; all frames when none is marked."""
    frames = _frames(error)
    marked = [f for f in frames if f.get("in_app") is True]
    return marked or [f for f in frames if f.get("in_app") is not False] or frames


def _digest(parts: list[str]) -> str:
    return hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


def fingerprint(event: NormalizedEvent) -> str | None:
    """The group of an error event (None for other events without a client fingerprint)."""
    client = event.get("fingerprint")
    if client:
        return _digest(["client", *map(str, client)])
    if event.get("type") != "error":
        return None
    error = event.get("error") or {}
    mechanism = error.get("mechanism")
    synthetic = isinstance(mechanism, dict) and mechanism.get("synthetic") is True
    error_type = "" if synthetic else str(error.get("type") or "")
    stack = [] if synthetic else [key for f in in_app_frames(error) if (key := _frame_key(f))]
    if stack:
        return _digest(["stack", error_type, *stack])
    text = str(error.get("value") or event.get("message") or "")
    if error_type or text:
        return _digest(["message", error_type, normalize_message(text)])
    return _digest(["name", str(event.get("name") or "")])


def culprit(event: NormalizedEvent) -> str | None:
    """Where it broke: the crash-site in-app frame, "module in function"."""
    error = event.get("error") or {}
    frames = in_app_frames(error)
    if not frames:
        return None
    top = frames[-1]
    where = top.get("module") or normalize_filename(
        str(top.get("filename") or top.get("abs_path") or "")
    )
    function = top.get("function")
    if where and function:
        return f"{where} in {function}"
    return str(where or function or "") or None


def title(event: NormalizedEvent) -> str:
    error = event.get("error") or {}
    error_type, value = error.get("type"), error.get("value")
    if error_type and value:
        text = f"{error_type}: {value}"
    else:
        text = str(error_type or value or event.get("message") or event.get("name") or "Error")
    first_line = text.strip().splitlines()[0] if text.strip() else "Error"
    return first_line[:200]
