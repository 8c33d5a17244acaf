"""A project's uploaded source maps and minified files as the API lists them (never their
content: the processor reads that through logsight.storage.artifacts)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.rows import dict_row

from logsight.query.keyset import Key, Order, Row, fetch

OLDEST_FIRST = Order(("created_at", "id"), ("created_at", "id"))
COLUMNS = "id, kind, release, dist, url, debug_id, sourcemap_url, size, sha256, created_at"


def artifacts(
    conn: psycopg.Connection,
    project_id: UUID,
    *,
    release: str | None,
    limit: int,
    after: Key | None = None,
) -> tuple[list[Row], Key | None]:
    where = " AND release = %(release)s" if release is not None else ""
    return fetch(
        conn,
        f"SELECT {COLUMNS} FROM artifacts WHERE project_id = %(project)s{where}",
        OLDEST_FIRST,
        limit=limit,
        after=after,
        params={"project": project_id, "release": release},
    )


def artifact(conn: psycopg.Connection, project_id: UUID, artifact_id: UUID) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            f"SELECT {COLUMNS} FROM artifacts WHERE project_id = %s AND id = %s",
            (project_id, artifact_id),
        ).fetchone()
    assert row is not None
    return row
