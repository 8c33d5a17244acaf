"""The one query API over events and rollups.

Both storage layouts have the same tables with the same columns (the rollups maintained by the
processor in both; hypertables on TimescaleDB), so every query here is one SQL text for both.
Routers call these functions inside :func:`read_only`.
"""

from logsight.query.session import QUERY_TIMEOUT_MS, read_only

__all__ = ["QUERY_TIMEOUT_MS", "read_only"]
