"""API queries run read-only, without JIT, and give up after the statement timeout."""

from __future__ import annotations

import psycopg
import pytest

from logsight.errors import ApiError
from logsight.query import read_only


def test_a_slow_query_becomes_a_503_and_the_connection_stays_usable(
    db: psycopg.Connection,
) -> None:
    with pytest.raises(ApiError) as caught, read_only(db, timeout_ms=50):
        db.execute("SELECT pg_sleep(1)")
    assert (caught.value.status, caught.value.code) == (503, "query_timeout")
    assert dict(caught.value.headers) == {"retry-after": "5"}
    # SET LOCAL: nothing leaks into the pooled connection's next use.
    assert db.execute("SHOW statement_timeout").fetchone() == ("0",)
    assert db.execute("SELECT 1").fetchone() == (1,)


def test_queries_cannot_write_and_run_without_jit(db: psycopg.Connection) -> None:
    with read_only(db):
        assert db.execute("SHOW jit").fetchone() == ("off",)
        assert db.execute("SHOW statement_timeout").fetchone() == ("10s",)
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction), read_only(db):
        db.execute("CREATE TEMP TABLE nope (x int)")
