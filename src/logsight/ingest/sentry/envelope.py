"""Sentry envelopes: a JSON header line, then items, each a JSON header line and a payload.

An item header with ``length`` gives the payload's size in bytes (it may contain newlines);
without it the payload runs to the next newline.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from logsight.ingest.sentry.errors import SentryError

MAX_ITEMS = 1000


@dataclass(frozen=True, slots=True)
class Item:
    headers: dict[str, Any]
    payload: bytes

    @property
    def type(self) -> str:
        return str(self.headers.get("type") or "")

    def json(self) -> Any:
        try:
            return orjson.loads(self.payload)
        except orjson.JSONDecodeError as exc:
            raise SentryError(400, f"invalid {self.type} item: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Envelope:
    headers: dict[str, Any]
    items: list[Item]


def _json_line(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = orjson.loads(line) if line.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise SentryError(400, f"invalid {what}: {exc}") from exc
    if not isinstance(value, dict):
        raise SentryError(400, f"invalid {what}: not a JSON object")
    return value


def parse_envelope(body: bytes) -> Envelope:
    end = body.find(b"\n")
    end = len(body) if end == -1 else end
    headers = _json_line(body[:end], "envelope header")
    position = end + 1
    items: list[Item] = []
    while position < len(body):
        end = body.find(b"\n", position)
        end = len(body) if end == -1 else end
        line = body[position:end]
        position = end + 1
        if not line.strip():
            continue  # blank lines between items, or the final newline
        item_headers = _json_line(line, "item header")
        length = item_headers.get("length")
        if length is not None:
            if not isinstance(length, int) or isinstance(length, bool) or length < 0:
                raise SentryError(400, "invalid item header: bad length")
            payload = body[position : position + length]
            if len(payload) < length:
                raise SentryError(400, "envelope ends inside an item")
            position += length
            if position < len(body) and body[position : position + 1] == b"\n":
                position += 1
        else:
            end = body.find(b"\n", position)
            end = len(body) if end == -1 else end
            payload = body[position:end]
            position = end + 1
        items.append(Item(item_headers, payload))
        if len(items) > MAX_ITEMS:
            raise SentryError(400, f"more than {MAX_ITEMS} items in one envelope")
    return Envelope(headers, items)
