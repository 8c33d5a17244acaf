"""The published JSON Schema of the event format (docs/event.schema.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from logsight.schemas import EventBatch, IncomingEvent


def event_schema() -> dict[str, Any]:
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://logsight.dev/schemas/event.schema.json",
        "title": "LogSight event request body",
        "description": 'POST /v1/events accepts one event or {"events": [...]}.',
        "oneOf": [{"$ref": "#/$defs/LogSightEvent"}, {"$ref": "#/$defs/LogSightEventBatch"}],
    }
    batch = EventBatch.model_json_schema(ref_template="#/$defs/{model}")
    defs = batch.pop("$defs", {})
    defs["LogSightEventBatch"] = batch
    defs.setdefault(
        "LogSightEvent", IncomingEvent.model_json_schema(ref_template="#/$defs/{model}")
    )
    schema["$defs"] = dict(sorted(defs.items()))
    return schema


def write_schema(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(event_schema(), indent=2) + "\n")
    return path
