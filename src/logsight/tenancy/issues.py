"""The resolve / ignore workflow of issues: members change an issue's status, audited."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from logsight.storage import issues as issue_store
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import audited


def set_status(
    access: Access,
    project_id: UUID,
    ids: list[UUID],
    status: str,
    *,
    ignore_until: datetime | None,
    ignore_count: int | None,
    ip: str | None,
) -> list[UUID]:
    """Set the status of the project's issues among ``ids``; returns those that exist."""
    project = access.project(project_id, need=Role.MEMBER)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        updated = issue_store.set_status(
            access.conn,
            project_id,
            ids,
            status,
            user_id=access.user_id,
            ignore_until=ignore_until,
            ignore_count=ignore_count,
        )
        if updated:
            log.record(
                f"issue.{status}",
                "issue",
                updated[0] if len(updated) == 1 else None,
                {"issues": [str(i) for i in updated], "project_id": str(project_id)},
            )
    return updated
