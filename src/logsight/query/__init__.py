"""The one query API over events and rollups.

Both storage layouts expose the same relations with the same columns (tables maintained by the
processor on plain PostgreSQL, continuous aggregates on TimescaleDB), so every query here is
one SQL text for both. Routers call these functions inside :func:`read_only`.
"""

from logsight.query.session import QUERY_TIMEOUT_MS, read_only

__all__ = ["QUERY_TIMEOUT_MS", "read_only"]
