"""A project's dead letters, newest first: lists carry the start of each message, one letter
its raw bytes up to a cap."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

NEWEST_FIRST = Order(("created_at", "id"), ("created_at", "id"), descending=True)
_COLUMNS = (
    "id, project_id, created_at, reason, source, message_id, octet_length(raw) AS size,"
    " details, replayed_at, redrive_attempts, redriven_at"
)


def summaries(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    head_bytes: int,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    """One page of letters, each with its first ``head_bytes`` bytes as ``head``."""
    # Only the heads leave the database, not whole messages.
    return fetch(
        conn,
        f"SELECT {_COLUMNS}, substring(raw FROM 1 FOR %(head)s) AS head"
        " FROM dead_letters WHERE project_id = %(project)s",
        NEWEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id, "head": head_bytes},
    )


def get(
    conn: psycopg.Connection, project_id: UUID, dead_letter_id: int, *, raw_bytes: int
) -> Row | None:
    """One letter with its first ``raw_bytes`` bytes as ``raw``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS}, substring(raw FROM 1 FOR %s) AS raw"
            " FROM dead_letters WHERE id = %s AND project_id = %s",
            (raw_bytes, dead_letter_id, project_id),
        ).fetchone()
