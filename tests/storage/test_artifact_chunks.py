"""Upload chunks that were never assembled are removed by `logsight maintain` after a day."""

from __future__ import annotations

import psycopg

from logsight.storage.artifacts import store_chunk
from logsight.storage.maintenance import run_maintenance
from tests.support.api import make_organization


def test_maintenance_drops_chunks_older_than_a_day(
    db: psycopg.Connection, database_url: str
) -> None:
    org = make_organization(db)
    store_chunk(db, org, "a" * 40, b"abandoned")
    store_chunk(db, org, "b" * 40, b"in flight")
    db.execute(
        "UPDATE artifact_chunks SET created_at = now() - interval '25 hours'"
        " WHERE organization_id = %s AND checksum = %s",
        (org, "a" * 40),
    )

    run_maintenance(database_url, default_retention_days=30, ahead_days=2)

    left = db.execute(
        "SELECT checksum FROM artifact_chunks WHERE organization_id = %s", (org,)
    ).fetchall()
    assert left == [("b" * 40,)]
