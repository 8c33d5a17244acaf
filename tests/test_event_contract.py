"""The event's one shape: what normalization queues is a NormalizedEvent, a row has a field per
column of logsight.event.COLUMNS, and those are the columns of the events table."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import get_type_hints

import psycopg

from logsight.event import COLUMNS, DETAIL_COLUMNS, JSON_COLUMNS, LIST_COLUMNS, NormalizedEvent
from logsight.ingest.normalize import Limits, normalize_event
from logsight.storage.writer import EventRow

LIMITS = Limits(
    max_event_bytes=1024 * 1024,
    max_json_depth=32,
    max_properties=256,
    max_string_bytes=8 * 1024,
    max_past=timedelta(days=30),
    max_future=timedelta(seconds=60),
)


def test_normalization_makes_every_field_of_the_contract_and_no_other() -> None:
    for raw in ({"name": "signup"}, {"type": "error", "error": {"type": "E", "value": "v"}}):
        event = normalize_event(raw, received_at=datetime.now(UTC), limits=LIMITS)
        assert set(event) == set(get_type_hints(NormalizedEvent))


def test_a_row_has_one_field_per_column_in_order() -> None:
    columns = tuple(f.name for f in fields(EventRow) if f.metadata.get("column", True))
    assert columns == COLUMNS


def test_a_row_holds_exactly_the_json_columns_serialized() -> None:
    hints = get_type_hints(EventRow)
    serialized = {name for name, hint in hints.items() if hint in (bytes, bytes | None)}
    assert serialized == JSON_COLUMNS


def test_lists_and_details_read_stored_columns() -> None:
    assert set(LIST_COLUMNS) < set(DETAIL_COLUMNS) < set(COLUMNS)
    assert "project_id" not in DETAIL_COLUMNS


def test_the_columns_are_the_events_tables(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        stored = {
            row[0]
            for row in conn.execute(
                "SELECT attname FROM pg_attribute"
                " WHERE attrelid = 'events'::regclass AND attnum > 0 AND NOT attisdropped"
            ).fetchall()
        }
    assert set(COLUMNS) == stored
