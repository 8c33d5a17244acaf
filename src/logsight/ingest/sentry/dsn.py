"""The DSN a Sentry SDK is configured with to send to a LogSight project."""

from __future__ import annotations


def dsn_for(public_key: str, base_url: str, project_number: int) -> str:
    scheme, _, rest = base_url.rstrip("/").partition("://")
    return f"{scheme}://{public_key}@{rest}/{project_number}"
