"""Recording ingest outcomes: client reports and accepted-but-unstored items (written by the
processor from the message, idempotently), and requests refused by a quota (added up by ingest
itself, since those publish nothing)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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


RATE_LIMITED = "rate_limited"


@dataclass(frozen=True, slots=True, order=True)
class RateLimitedKey:
    """One row of refused events: a project's minute, data category and the quota hit."""

    project_id: UUID
    minute: datetime
    category: str
    reason: str

    @property
    def request_id(self) -> str:
        return f"{RATE_LIMITED}/{self.minute:%Y-%m-%dT%H:%MZ}"


def add_rate_limited(conn: psycopg.Connection, counts: Mapping[RateLimitedKey, int]) -> None:
    """Add refused-event counts. Rows go in a fixed order so concurrent flushes from several
    environments lock them in the same order; a project deleted meanwhile is skipped."""
    ordered = sorted(counts.items())
    if not ordered:
        return
    conn.execute(
        "INSERT INTO ingest_outcomes AS o"
        " (project_id, request_id, received_at, outcome, category, reason, quantity)"
        " SELECT u.project_id, u.request_id, u.minute, %s, u.category, u.reason, u.quantity"
        " FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[], %s::text[], %s::text[],"
        " %s::bigint[]) WITH ORDINALITY AS u(project_id, request_id, minute, category, reason,"
        " quantity, n)"
        " WHERE EXISTS (SELECT 1 FROM projects p WHERE p.id = u.project_id)"
        " ORDER BY u.n"
        " ON CONFLICT (project_id, request_id, outcome, category, reason)"
        " DO UPDATE SET quantity = o.quantity + EXCLUDED.quantity",
        (
            RATE_LIMITED,
            [k.project_id for k, _ in ordered],
            [k.request_id for k, _ in ordered],
            [k.minute for k, _ in ordered],
            [k.category for k, _ in ordered],
            [k.reason for k, _ in ordered],
            [n for _, n in ordered],
        ),
    )
