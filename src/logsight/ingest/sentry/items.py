"""What each envelope item type becomes: one handler per type.

An ``event`` item is one LogSight event (an error, and so an issue, whatever its level); ``log``
items are log events; ``client_report`` items count what the SDK discarded; every other type
(transaction, session, attachment, check-in, profile, unknown) is accepted and counted, never an
error, so an SDK is never told to retry what LogSight does not store.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from logsight.ingest.sentry.envelope import Item
from logsight.ingest.sentry.errors import SentryError
from logsight.ingest.sentry.mapping import map_event, map_logs

OutcomeKey = tuple[str, str, str]  # (outcome, category, reason)


@dataclass(slots=True)
class Contents:
    """An envelope's items, read: the events to normalize (in item order) and the outcomes to
    count. ``sdk`` is the envelope header's, for events that do not name their own."""

    sdk: dict[str, Any] | None
    events: list[dict[str, Any]] = field(default_factory=list)
    outcomes: Counter[OutcomeKey] = field(default_factory=Counter)
    # Where the event item's event is among ``events`` (at most one per envelope).
    event_index: int | None = None

    @property
    def quantities(self) -> dict[str, int]:
        """The events by Sentry data category, as the quotas count them."""
        errors = int(self.event_index is not None)
        return {"error": errors, "log_item": len(self.events) - errors}


def _event(item: Item, contents: Contents) -> None:
    if contents.event_index is not None:
        raise SentryError(400, "more than one event in the envelope")
    payload = item.json()
    if not isinstance(payload, dict):
        raise SentryError(400, "invalid event item: not a JSON object")
    contents.event_index = len(contents.events)
    contents.events.append(map_event(payload, sdk_header=contents.sdk))


def _log(item: Item, contents: Contents) -> None:
    contents.events.extend(map_logs(item.json()))


def _client_report(item: Item, contents: Contents) -> None:
    report = item.json()
    for discarded in (report or {}).get("discarded_events") or []:
        if isinstance(discarded, dict) and isinstance(discarded.get("quantity"), int):
            category = str(discarded.get("category") or "unknown")
            reason = str(discarded.get("reason") or "")
            contents.outcomes[("client_discarded", category, reason)] += max(
                discarded["quantity"], 0
            )


def _skipped(item: Item, contents: Contents) -> None:
    contents.outcomes[("skipped", item.type or "unknown", "")] += 1


HANDLERS: dict[str, Callable[[Item, Contents], None]] = {
    "event": _event,
    "log": _log,
    "client_report": _client_report,
}


def read_items(items: Iterable[Item], sdk: dict[str, Any] | None) -> Contents:
    contents = Contents(sdk)
    for item in items:
        HANDLERS.get(item.type, _skipped)(item, contents)
    return contents
