"""CloudFormation custom resource: database migrations, the broker topology and (once) the first
administrator, on every deploy.

All steps are idempotent (migrations are recorded and serialized by an advisory lock; queue
declarations with the same arguments are no-ops; the administrator is created only while no
user has a password), so running them on each Create and Update is safe, and the stack passes
the asset hash as a property so new code triggers an Update. Delete does nothing: tearing down
the stack must never drop data (the database's own removal policy decides about it).

Written against the raw custom resource protocol (a PUT to the pre-signed ResponseURL) rather
than the CDK Provider framework, which would add a Node.js function and a state machine.

A database that cannot be reached fails the deployment within seconds, with a reason saying
where it tried and what to check, rather than hanging until the function times out and
CloudFormation gives up an hour later.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from logsight.config import Settings, get_settings

# Per connection attempt (libpq's connect_timeout); RDS and a NAT-ed external database answer
# in well under a second when reachable.
CONNECT_TIMEOUT_SECONDS = 15

log = logging.getLogger()
log.setLevel(logging.INFO)


def _respond(
    event: dict[str, Any], context: Any, status: str, data: dict[str, Any], reason: str
) -> None:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:3500] or "see CloudWatch Logs",
            "PhysicalResourceId": event.get("PhysicalResourceId") or "logsight-deploy",
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "Data": data,
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"],
        data=body,
        method="PUT",
        headers={"content-type": "", "content-length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        response.read()


class DeployError(RuntimeError):
    """A failure worth its own words in CloudFormation's event list."""


def reachable_database(url: str, timeout: int | None = None) -> str:
    """``url`` as a conninfo string bounded by ``timeout`` seconds per connection attempt, once
    a connection to it succeeded; else DeployError naming the host (never the password)."""
    timeout = timeout or CONNECT_TIMEOUT_SECONDS
    conninfo = make_conninfo(url, connect_timeout=timeout)
    target = conninfo_to_dict(conninfo)
    where = f"{target.get('host', 'localhost')}:{target.get('port', 5432)}"
    try:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DeployError(
            f"cannot connect to the database at {where} (database "
            f"{target.get('dbname', '?')}, {timeout} s per attempt): {detail}. Check the "
            "database secret, that the database is running, and the path to it: security "
            "groups and, for an external database, its allow-list, peering or TLS settings "
            "(docs/deploy.md)."
        ) from exc
    return conninfo


def first_admin(conninfo: str, settings: Settings) -> bool:
    """With built-in accounts and no user yet, create the first administrator and put its
    generated password in the stack's secret: the database is private, so nobody could run
    ``logsight user create`` against it. The account is committed only once the secret holds
    the password, so a failed write leaves the next deploy to try again."""
    if not settings.builtin_auth or not settings.first_admin_secret_arn:
        return False
    import boto3  # the Lambda runtime's

    from logsight.auth.bootstrap import ensure_first_admin

    with psycopg.connect(conninfo, autocommit=True) as conn, conn.transaction():
        created = ensure_first_admin(conn, settings)
        if created is None:
            return False
        email, password = created
        boto3.client("secretsmanager").put_secret_value(
            SecretId=settings.first_admin_secret_arn,
            SecretString=json.dumps({"email": email, "password": password}),
        )
    return True


def deploy() -> dict[str, Any]:
    from logsight.queue.topology import ensure_topology
    from logsight.storage.migrate import migrate

    try:
        settings = get_settings()
    except Exception as exc:
        raise DeployError(f"reading the settings and their secrets failed: {exc}") from exc
    if not settings.database_url:
        raise DeployError("the database URL secret is not set")
    conninfo = reachable_database(settings.database_url)
    applied = migrate(conninfo, timescale=settings.timescale)
    queues = ensure_topology(settings)
    admin = first_admin(conninfo, settings)
    return {
        "MigrationsApplied": len(applied),
        "Queues": ",".join(queues),
        "FirstAdminCreated": str(admin).lower(),
    }


def handler(event: dict[str, Any], context: Any) -> None:
    log.info("custom resource %s", event.get("RequestType"))
    try:
        data = {} if event.get("RequestType") == "Delete" else deploy()
    except Exception as exc:
        log.exception("deploy step failed")
        _respond(event, context, "FAILED", {}, f"{type(exc).__name__}: {exc}")
        return
    log.info("deploy step done: %s", data)
    _respond(event, context, "SUCCESS", data, "")
