"""Error fingerprints: which errors are "the same problem"."""

from __future__ import annotations

import hashlib
import re
from typing import Any

_NUMBER = re.compile(r"\b\d+\b")
_HEX = re.compile(r"\b0x[0-9a-fA-F]+\b|\b[0-9a-f]{8,}\b")
_UUID = re.compile(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")


def normalize_message(message: str) -> str:
    message = _UUID.sub("<uuid>", message)
    message = _HEX.sub("<hex>", message)
    message = _QUOTED.sub("<str>", message)
    return _NUMBER.sub("<n>", message)


def _digest(parts: list[str]) -> str:
    return hashlib.sha1("\x1f".join(parts).encode(), usedforsecurity=False).hexdigest()


def fingerprint(event: dict[str, Any]) -> str | None:
    """Client-supplied fingerprint, else in-app stack, else type + normalized message."""
    client = event.get("fingerprint")
    if client:
        return _digest(["client", *map(str, client)])
    if event.get("type") != "error":
        return None
    error = event.get("error") or {}
    frames = ((error.get("stacktrace") or {}).get("frames")) or []
    in_app = [f for f in frames if f.get("in_app")] or frames
    stack = [
        f"{f.get('module') or f.get('filename') or '?'}:{f.get('function') or '?'}" for f in in_app
    ]
    if stack:
        return _digest(["stack", str(error.get("type") or ""), *stack])
    text = error.get("value") or event.get("message") or ""
    return _digest(["message", str(error.get("type") or ""), normalize_message(str(text))])
