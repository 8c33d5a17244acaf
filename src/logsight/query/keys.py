"""A project's ingest keys as the API shows them (ingest's own look-up is
logsight.storage.keys.KeyStore)."""

from __future__ import annotations

from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

OLDEST_FIRST = Order(("created_at", "id"), ("created_at", "id"))
COLUMNS = (
    "id, project_id, public_key, label, allowed_origins, created_at, revoked_at,"
    " revoked_at IS NULL AS active"
)


def keys(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    include_revoked: bool,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    active = "" if include_revoked else " AND revoked_at IS NULL"
    return fetch(
        conn,
        f"SELECT {COLUMNS} FROM ingest_keys WHERE project_id = %(project)s{active}",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id},
    )


def key(
    conn: psycopg.Connection, project_id: UUID, key_id: UUID, *, lock: bool = False
) -> Row | None:
    """The key, locked against concurrent changes until the transaction ends with ``lock``."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"SELECT {COLUMNS} FROM ingest_keys WHERE id = %s AND project_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (key_id, project_id),
        ).fetchone()
