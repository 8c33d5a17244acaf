"""Event validation and normalization: every limit and bad-input class, in isolation."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from logsight.ingest.normalize import Limits, _Reject, normalize_batch, normalize_event

RECEIVED = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LIMITS = Limits(
    max_event_bytes=1024 * 1024,
    max_json_depth=32,
    max_properties=256,
    max_string_bytes=8 * 1024,
    max_past=timedelta(days=30),
    max_future=timedelta(seconds=60),
)


def norm(raw: Any, limits: Limits = LIMITS) -> dict[str, Any]:
    return normalize_event(raw, received_at=RECEIVED, limits=limits)


def reject(raw: Any, limits: Limits = LIMITS) -> _Reject:
    with pytest.raises(_Reject) as info:
        norm(raw, limits)
    return info.value


def test_minimal_event_gets_id_timestamp_and_defaults() -> None:
    event = norm({"name": "signup"})
    uuid.UUID(event["event_id"])
    assert event["timestamp"] == RECEIVED.isoformat()
    assert (event["type"], event["level"], event["properties"]) == ("event", "info", {})
    assert event["meta"] == {}


def test_client_event_id_is_kept() -> None:
    event_id = str(uuid.uuid4())
    assert norm({"name": "x", "event_id": event_id})["event_id"] == event_id


def test_invalid_event_id_names_the_field() -> None:
    rejection = reject({"name": "x", "event_id": "not-a-uuid"})
    assert (rejection.code, rejection.field) == ("invalid_field", "event_id")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-11-27T11:00:00Z", datetime(2026, 11, 27, 11, tzinfo=UTC)),
        ("2026-11-27T12:00:00+01:00", datetime(2026, 11, 27, 11, tzinfo=UTC)),
        ("2026-11-27T11:00:00", datetime(2026, 11, 27, 11, tzinfo=UTC)),
        (
            int(datetime(2026, 11, 27, 11, tzinfo=UTC).timestamp() * 1000),
            datetime(2026, 11, 27, 11, tzinfo=UTC),
        ),
        (
            datetime(2026, 11, 27, 11, tzinfo=UTC).timestamp() * 1000 + 0.5,
            datetime(2026, 11, 27, 11, 0, 0, 500, tzinfo=UTC),
        ),
    ],
)
def test_timestamps_iso_or_epoch_millis(raw: Any, expected: datetime) -> None:
    event = norm({"name": "x", "timestamp": raw})
    assert datetime.fromisoformat(event["timestamp"]) == expected
    assert "original_timestamp" not in event["meta"]


@pytest.mark.parametrize(
    ("raw", "clamped"),
    [
        ("2020-01-01T00:00:00Z", RECEIVED - timedelta(days=30)),
        ("2030-01-01T00:00:00Z", RECEIVED + timedelta(seconds=60)),
        (0, RECEIVED - timedelta(days=30)),
        (1e30, RECEIVED + timedelta(seconds=60)),
    ],
)
def test_out_of_range_timestamps_are_clamped_with_the_original_kept(
    raw: Any, clamped: datetime
) -> None:
    event = norm({"name": "x", "timestamp": raw})
    assert datetime.fromisoformat(event["timestamp"]) == clamped
    assert event["meta"]["original_timestamp"] == raw


@pytest.mark.parametrize("raw", ["yesterday", True, "2026-13-01T00:00:00Z"])
def test_unparseable_timestamps_are_rejected(raw: Any) -> None:
    assert reject({"name": "x", "timestamp": raw}).field == "timestamp"


def test_nan_timestamp_is_rejected() -> None:
    assert reject({"name": "x", "timestamp": float("nan")}).code == "invalid_timestamp"


def test_long_strings_are_trimmed_and_their_length_recorded() -> None:
    long = "é" * 5000  # 10,000 bytes of UTF-8
    event = norm({"name": "x", "message": long, "properties": {"deep": {"list": [long]}}})
    assert len(event["message"].encode()) <= 8 * 1024
    assert event["message"] == "é" * 4096
    assert event["meta"]["truncated"] == {"message": 10000, "properties.deep.list[0]": 10000}


def test_nul_characters_are_stripped_everywhere() -> None:
    event = norm({"name": "sign\x00up", "properties": {"k\x00ey": "va\x00lue"}})
    assert event["name"] == "signup"
    assert event["properties"] == {"key": "value"}


def test_nesting_deeper_than_the_limit_is_rejected() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(40):
        cursor["a"] = {}
        cursor = cursor["a"]
    rejection = reject({"name": "x", "properties": deep})
    assert rejection.code == "too_deep"
    assert rejection.field.startswith("properties.a")


def test_nesting_at_the_limit_is_fine() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(29):  # event (1) > properties (2) > 29 more = depth 31
        cursor["a"] = {}
        cursor = cursor["a"]
    norm({"name": "x", "properties": deep})


def test_too_many_properties() -> None:
    rejection = reject({"name": "x", "properties": {f"p{i}": i for i in range(257)}})
    assert (rejection.code, rejection.field) == ("too_many_properties", "properties")
    norm({"name": "x", "properties": {f"p{i}": i for i in range(256)}})


def test_event_larger_than_the_limit() -> None:
    small = replace(LIMITS, max_event_bytes=100)
    assert reject({"name": "x", "message": "y" * 200}, small).code == "event_too_large"


def test_name_is_required_for_custom_events_only() -> None:
    assert reject({"type": "event"}).field == "name"
    assert norm({"type": "pageview"})["name"] == "pageview"
    assert norm({"type": "log", "message": "hi"})["name"] == "log"
    error = norm({"type": "error", "error": {"type": "TypeError", "value": "x is undefined"}})
    assert (error["name"], error["level"]) == ("TypeError", "error")


def test_unknown_type_and_level_are_rejected_naming_the_field() -> None:
    assert reject({"name": "x", "type": "metric"}).field == "type"
    assert reject({"name": "x", "level": "loud"}).field == "level"


def test_level_aliases() -> None:
    assert norm({"name": "x", "level": "WARN"})["level"] == "warning"
    assert norm({"name": "x", "level": "critical"})["level"] == "fatal"


def test_nested_field_errors_carry_their_path() -> None:
    rejection = reject({"type": "error", "error": {"stacktrace": {"frames": [{"lineno": "ten"}]}}})
    assert rejection.field == "error.stacktrace.frames[0].lineno"


def test_user_ids_may_be_numbers_and_become_the_typed_column() -> None:
    event = norm({"name": "x", "user": {"id": 42, "email": "a@example.com", "plan": "pro"}})
    assert event["user_id"] == "42"
    assert event["user"] == {"id": "42", "email": "a@example.com", "plan": "pro"}


def test_full_event_round_trip() -> None:
    raw = {
        "type": "error",
        "name": "checkout failed",
        "level": "error",
        "message": "boom",
        "properties": {"cart": 3},
        "user": {"id": "u1"},
        "session_id": "s1",
        "context": {"url": "https://shop.example/cart", "user_agent": "UA", "screen": "1920x1080"},
        "release": "1.2.3",
        "environment": "production",
        "error": {
            "type": "TypeError",
            "value": "x is undefined",
            "stacktrace": {
                "frames": [
                    {
                        "filename": "app.js",
                        "function": "pay",
                        "lineno": 10,
                        "colno": 5,
                        "in_app": True,
                    }
                ]
            },
        },
        "sdk": {"name": "logsight.js", "version": "0.1.0"},
        "fingerprint": ["checkout"],
        "unknown_top_level": "ignored",
    }
    event = norm(raw)
    assert event["error"]["stacktrace"]["frames"][0]["function"] == "pay"
    assert event["context"]["screen"] == "1920x1080"
    assert event["fingerprint"] == ["checkout"]
    assert "unknown_top_level" not in event


def test_batch_reports_rejections_by_index_and_keeps_the_valid() -> None:
    accepted, rejected = normalize_batch(
        [{"name": "ok"}, "nope", {"type": "event"}, {"name": "ok2"}],
        received_at=RECEIVED,
        limits=LIMITS,
    )
    assert [e["name"] for e in accepted] == ["ok", "ok2"]
    assert [(r.index, r.code, r.field) for r in rejected] == [
        (1, "invalid_event", ""),
        (2, "missing_field", "name"),
    ]
