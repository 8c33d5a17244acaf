"""CloudFormation custom resource: database migrations and the broker topology, on every deploy.

Both steps are idempotent (migrations are recorded and serialized by an advisory lock; queue
declarations with the same arguments are no-ops), so running them on each Create and Update is
safe, and the stack passes the asset hash as a property so new code triggers an Update. Delete
does nothing: tearing down the stack must never drop data in the external database.

Written against the raw custom resource protocol (a PUT to the pre-signed ResponseURL) rather
than the CDK Provider framework, which would add a Node.js function and a state machine.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Any

from logsight.config import get_settings

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


def deploy() -> dict[str, Any]:
    from logsight.queue.topology import ensure_topology
    from logsight.storage.migrate import migrate

    settings = get_settings()
    if not settings.database_url:
        raise RuntimeError("the database URL secret is not set")
    applied = migrate(settings.database_url, timescale=settings.timescale)
    queues = ensure_topology(settings)
    return {"MigrationsApplied": len(applied), "Queues": ",".join(queues)}


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
