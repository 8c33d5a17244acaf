"""Request values PostgreSQL can store and Python can read back, checked where requests come in,
so that a client's mistake is a 422 naming the field rather than a database error.

- Text: PostgreSQL text and jsonb cannot hold NUL, and no UTF-8 (so no PostgreSQL text) can
  hold an unpaired surrogate, which JSON can ("\\ud800"). ``check_text`` runs for every route
  of the app, routes added later included: every path parameter, query parameter (names too)
  and JSON body string (object keys too).
- Times: within datetime's calendar once read in UTC, with a day to spare for time zones.
  PostgreSQL stores a wider range, but what psycopg cannot read back would fail every later
  read of the row.
- Integers: within bigint, the widest integer column.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Request
from pydantic import AfterValidator

from logsight.errors import ApiError

BIGINT_MAX = 2**63 - 1

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _escaped(text: str) -> str:
    """``text`` with what cannot be stored written as \\uXXXX: fit for a field name."""
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def _reject(text: str, field: str) -> None:
    bad = _UNSTORABLE.search(text)
    if bad is None:
        return
    what = "NUL characters" if bad.group() == "\x00" else "unpaired surrogates"
    raise ApiError(422, "invalid_field", f"text cannot contain {what}", field)


def _check_json(document: Any) -> None:
    # Iterative: nesting as deep as the JSON parser allows must not exhaust the stack.
    pending: list[tuple[str, Any]] = [("body", document)]
    while pending:
        field, value = pending.pop()
        if isinstance(value, str):
            _reject(value, field)
        elif isinstance(value, dict):
            for key, item in value.items():
                inner = f"{field}.{_escaped(key)}"
                _reject(key, inner)
                pending.append((inner, item))
        elif isinstance(value, list):
            pending.extend((f"{field}.{index}", item) for index, item in enumerate(value))


async def check_text(request: Request) -> None:
    """A dependency of the whole app: 422 for text PostgreSQL cannot store, anywhere in the
    request. Field names read like the validation errors': ``query.q``, ``body.name``."""
    for name, value in request.path_params.items():
        _reject(str(value), f"path.{name}")
    for name, value in request.query_params.multi_items():
        field = f"query.{_escaped(name)}"
        _reject(name, field)
        _reject(value, field)
    if request.headers.get("content-type", "").startswith("multipart/"):
        return  # files (sentry-cli's chunks), read as a form by FastAPI: not stored as text
    if await request.body():
        try:
            # Parsed (and kept) by FastAPI already for routes with a JSON body.
            document = await request.json()
        except (ValueError, RecursionError):
            return  # not JSON: the route's own validation answers
        _check_json(document)


# Naive times are read in some time zone later; a day keeps every zone's reading in range.
_EARLIEST = datetime.min + timedelta(days=1)
_LATEST = datetime.max - timedelta(days=1)


def within_calendar(value: datetime) -> datetime:
    earliest, latest = (
        (_EARLIEST, _LATEST)
        if value.tzinfo is None
        else (_EARLIEST.replace(tzinfo=UTC), _LATEST.replace(tzinfo=UTC))
    )
    if not earliest <= value <= latest:
        raise ValueError(f"times must lie between {earliest:%Y-%m-%d} and {latest:%Y-%m-%d} (UTC)")
    return value


Time = Annotated[datetime, AfterValidator(within_calendar)]
