"""Recording ingest outcomes (client reports, accepted-but-unstored items), idempotently."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg


@dataclass(frozen=True, slots=True)
class Outcome:
    project_id: UUID
    request_id: str
    received_at: datetime
    outcome: str
    category: str
    reason: str
    quantity: int


def from_message(
    project_id: UUID, request_id: str, received_at: datetime, outcomes: list[dict[str, Any]]
) -> list[Outcome]:
    return [
        Outcome(
            project_id,
            request_id,
            received_at,
            str(o["outcome"]),
            str(o.get("category") or "unknown"),
            str(o.get("reason") or ""),
            int(o["quantity"]),
        )
        for o in outcomes
    ]


def record(conn: psycopg.Connection, outcomes: Iterable[Outcome]) -> None:
    rows = [
        (o.project_id, o.request_id, o.received_at, o.outcome, o.category, o.reason, o.quantity)
        for o in outcomes
    ]
    if not rows:
        return
    with conn.cursor() as cur:
        # Keyed by request: a redelivered message records nothing twice.
        cur.executemany(
            "INSERT INTO ingest_outcomes"
            " (project_id, request_id, received_at, outcome, category, reason, quantity)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            rows,
        )
