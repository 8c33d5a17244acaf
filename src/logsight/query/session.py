"""A read-only, time-limited transaction for API queries."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors

from logsight.errors import ApiError

# Below API Gateway's 29 s integration limit, so the client gets our error and not a 504,
# and a runaway search cannot hold a pooled connection for long.
QUERY_TIMEOUT_MS = 10_000
# Sketch merges and group-bys hash tens of thousands of groups; the server default (4 MB) makes
# the planner sort instead. Per query node, for the length of one API query only.
QUERY_WORK_MEM = "32MB"


@contextmanager
def read_only(conn: psycopg.Connection, timeout_ms: int = QUERY_TIMEOUT_MS) -> Iterator[None]:
    """Run the block in a READ ONLY transaction with a statement timeout and without JIT.

    JIT compilation costs tens of milliseconds on queries the planner thinks are big, which is
    most aggregate queries and always more than they save at the sizes the dashboard asks for.
    Every setting is transaction-local: the pooled connection goes back unchanged.
    """
    try:
        with conn.transaction():
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(
                "SELECT set_config('statement_timeout', %s, true), set_config('jit', 'off', true),"
                " set_config('work_mem', %s, true)",
                (str(int(timeout_ms)), QUERY_WORK_MEM),
            )
            yield
    except pg_errors.QueryCanceled as exc:
        raise ApiError(
            503,
            "query_timeout",
            "the query took too long; narrow the time range or add filters",
            headers=(("retry-after", "5"),),
        ) from exc
