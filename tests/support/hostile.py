"""Values every endpoint must refuse with a 4xx, never a 500, as Hypothesis strategies by the
kind of place they go (tests.support.openapi.Slot): text PostgreSQL cannot hold, integers at and
beyond bigint, times at and beyond the calendar's ends in any offset, and forged cursors."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import hypothesis.strategies as st

BIGINT_MAX = 2**63 - 1

# Text: NUL somewhere in it. JSON bodies may also carry unpaired surrogates, which no URL can.
_nul_text = st.builds(lambda a, b: f"{a}\x00{b}", st.text(max_size=8), st.text(max_size=8))
# In a path segment, what would end or split the segment changes the route, not the value.
_segment = st.text(st.characters(exclude_characters="/?#%"), max_size=8)
_nul_segment = st.builds(lambda a, b: f"{a}\x00{b}", _segment, _segment)
_surrogate_text = st.builds(
    lambda a, s, b: f"{a}{chr(s)}{b}",
    st.text(max_size=4),
    st.integers(0xD800, 0xDFFF),
    st.text(max_size=4),
)

_integers = st.one_of(
    st.sampled_from([BIGINT_MAX, -BIGINT_MAX - 1, BIGINT_MAX + 1, -BIGINT_MAX - 2, 2**64]),
    st.integers(min_value=BIGINT_MAX + 1, max_value=2**100),
    st.integers(min_value=-(2**100), max_value=-BIGINT_MAX - 2),
)

_OFFSETS = [
    None,
    UTC,
    timezone(timedelta(hours=14)),
    timezone(timedelta(hours=-14)),
    timezone(timedelta(hours=23, minutes=59)),
    timezone(timedelta(hours=-23, minutes=-59)),
]
_EDGES = [datetime.min, datetime.min + timedelta(days=1), datetime.max, datetime(1970, 1, 1)]
_times = st.one_of(
    st.builds(
        lambda at, tz, shift: (
            (at + shift if at < datetime(5000, 1, 1) else at - shift).replace(tzinfo=tz).isoformat()
        ),
        st.sampled_from(_EDGES),
        st.sampled_from(_OFFSETS),
        st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=2)),
    ),
    st.datetimes(timezones=st.sampled_from(_OFFSETS)).map(datetime.isoformat),
)

# What a forged cursor may hold: values of every JSON type, near-miss times and ids included.
_cursor_leaf = st.one_of(
    st.none(),
    st.booleans(),
    _integers,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    _times,
    st.just(str(uuid.UUID(int=0))),
    st.uuids().map(str),
)
_cursor_values = st.one_of(
    # The arities lists write (one or two values), so that decoding gets past the shape.
    st.lists(_cursor_leaf, min_size=1, max_size=2),
    st.recursive(
        _cursor_leaf,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
        max_leaves=6,
    ),
)


def _encoded(values: Any) -> str:
    # json, not orjson: integers beyond 64 bits are part of the point.
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


_cursors = st.one_of(
    _cursor_values.map(_encoded),
    st.text(
        alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=", max_size=40
    ),
    st.text(max_size=20),
)


def values(kind: str, where: str) -> st.SearchStrategy[Any]:
    """Hostile values for a slot of ``kind`` (text, integer, time, cursor) in ``where``."""
    if kind == "integer":
        # As a number in JSON, as digits in a URL.
        return _integers if where == "body" else _integers.map(str)
    if kind == "time":
        return _times
    if kind == "cursor":
        return _cursors | _nul_text
    if where == "path":
        return _nul_segment
    return _nul_text | _surrogate_text if where == "body" else _nul_text
