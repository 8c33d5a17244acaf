"""Secrets Manager values turned into settings, once per execution environment.

On AWS the functions receive secret ARNs, never the secrets themselves: the database URL, the
broker credentials and the CloudFront origin secret are read here when ``get_settings`` first
runs (Lambda init), through Powertools' parameters utility (which caches). Imported only when an
ARN setting is present, so a process without them (the local runtime, tests) never loads boto3;
it knows nothing of the settings class, so config imports it and not the other way round.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from aws_lambda_powertools.utilities.parameters import get_secret

_DATABASE_SCHEMES = ("postgres://", "postgresql://")
_AMQP_SCHEMES = ("amqp://", "amqps://")


class SecretFormatError(ValueError):
    pass


def secret_text(arn: str) -> str:
    value = get_secret(arn)
    if isinstance(value, bytes):
        return value.decode()
    if not isinstance(value, str):
        raise SecretFormatError(f"secret {arn} has no SecretString")
    return value.strip()


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise SecretFormatError(f"the {what} secret is neither a URL nor JSON") from exc
    if not isinstance(data, dict):
        raise SecretFormatError(f"the {what} secret's JSON is not an object")
    return data


def database_url_from_secret(text: str) -> str:
    """A URL as is; ``{"url": ...}``; or the RDS form (host, port, username, password, dbname)."""
    if text.startswith(_DATABASE_SCHEMES):
        return text
    data = _json_object(text, "database")
    if isinstance(data.get("url"), str):
        return str(data["url"])
    try:
        user = quote(str(data["username"]), safe="")
        password = quote(str(data["password"]), safe="")
        host = str(data["host"])
    except KeyError as exc:
        raise SecretFormatError(f"the database secret lacks {exc.args[0]!r}") from exc
    port = data.get("port", 5432)
    dbname = quote(str(data.get("dbname", "postgres")), safe="")
    return f"postgresql://{user}:{password}@{host}:{port}/{dbname}?sslmode=require"


def amqp_url_from_secret(text: str, endpoint_url: str) -> str:
    """A full URL as is; else ``{"username", "password"}`` (the secret Amazon MQ's event source
    mapping reads too) put into ``endpoint_url`` (amqps://host:5671/vhost, from the stack)."""
    if text.startswith(_AMQP_SCHEMES):
        return text
    data = _json_object(text, "broker")
    try:
        user = quote(str(data["username"]), safe="")
        password = quote(str(data["password"]), safe="")
    except KeyError as exc:
        raise SecretFormatError(f"the broker secret lacks {exc.args[0]!r}") from exc
    parts = urlsplit(endpoint_url)
    host = parts.hostname or ""
    netloc = f"{user}:{password}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_secrets(
    *,
    database_url_secret_arn: str | None,
    amqp_secret_arn: str | None,
    amqp_url: str,
    cloudfront_secret_arn: str | None,
) -> dict[str, str]:
    """The settings the given ARNs' secrets fill in (database_url, amqp_url and
    cloudfront_secret); the broker's credentials go into ``amqp_url``, its endpoint."""
    updates: dict[str, str] = {}
    if database_url_secret_arn:
        updates["database_url"] = database_url_from_secret(secret_text(database_url_secret_arn))
    if amqp_secret_arn:
        updates["amqp_url"] = amqp_url_from_secret(secret_text(amqp_secret_arn), amqp_url)
    if cloudfront_secret_arn:
        updates["cloudfront_secret"] = secret_text(cloudfront_secret_arn)
    return updates
