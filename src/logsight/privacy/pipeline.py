"""Where the processor scrubs: each event before its row is built, and the raw bytes of dead
letters.

Both use the project's rules (``POLICIES``); a dead letter of no known project gets the
defaults. Dead letters keep their bytes so they can be replayed, so the bytes are scrubbed, not
encrypted: a message that is JSON is scrubbed event by event like the rows and written back as
JSON (replayable, and stored as its rows would be); anything else is scrubbed as text, bytes
that are not UTF-8 kept as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson
import psycopg

from logsight.privacy.policies import POLICIES
from logsight.privacy.scrubber import Scrubber


def event_scrubber(
    conn: psycopg.Connection, project_id: UUID
) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The project's rules as the processor applies them: to each event before its row is
    built (the row holds its JSON already serialized)."""
    return POLICIES.scrubber(conn, project_id).event


def scrub_message(scrubber: Scrubber, raw: bytes) -> bytes:
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return scrubber.text(raw.decode("utf-8", "surrogateescape")).encode(
            "utf-8", "surrogateescape"
        )
    events = data.get("events") if isinstance(data, dict) else None
    if isinstance(events, list):
        scrubbed = [scrubber.event(e) if isinstance(e, dict) else scrubber.value(e) for e in events]
        data = {**data, "events": scrubbed}
    else:
        data = scrubber.value(data)
    return orjson.dumps(data)


def scrub_dead_letter(conn: psycopg.Connection, project_id: UUID | None, raw: bytes) -> bytes:
    return scrub_message(POLICIES.scrubber(conn, project_id), raw)
