"""Finding the DSN public key: X-Sentry-Auth, Authorization: Sentry, ?sentry_key, or the
envelope header's dsn. Several may be present; they must agree."""

from __future__ import annotations

from urllib.parse import urlsplit

from logsight.apigw import HttpRequest
from logsight.ingest.sentry.errors import SentryError


def parse_auth_header(value: str) -> dict[str, str]:
    """``Sentry sentry_key=abc, sentry_version=7, sentry_client=x/1.0`` → its pairs."""
    text = value.strip()
    if text[:7].lower() == "sentry ":
        text = text[7:]
    pairs: dict[str, str] = {}
    for part in text.split(","):
        name, _, val = part.strip().partition("=")
        if name:
            pairs[name.strip().lower()] = val.strip()
    return pairs


def public_key(request: HttpRequest, envelope_dsn: str | None = None) -> str:
    authorization = request.header("authorization") or ""
    candidates = {
        "X-Sentry-Auth": parse_auth_header(request.header("x-sentry-auth") or "").get("sentry_key"),
        "Authorization": parse_auth_header(authorization).get("sentry_key")
        if authorization.strip()[:7].lower() == "sentry "
        else None,
        "sentry_key": request.query.get("sentry_key"),
        "envelope dsn": urlsplit(envelope_dsn).username if envelope_dsn else None,
    }
    found = {where: key for where, key in candidates.items() if key}
    if not found:
        raise SentryError(403, "missing authorization information")
    if len(set(found.values())) > 1:
        raise SentryError(403, f"conflicting authorization in {', '.join(sorted(found))}")
    return next(iter(found.values()))
