"""Changes to a project's ingest keys (admins), each audited: a revoked key stays revoked and
cannot be changed or rotated. Ingest trusts a looked-up key for up to
LOGSIGHT_KEY_CACHE_SECONDS, so a revocation takes effect within that time."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from logsight.errors import ApiError
from logsight.query import keys as key_queries
from logsight.query.keyset import Row
from logsight.storage import keys as key_store
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import AuditedWrite, audited


def _key(access: Access, project_id: UUID, key_id: UUID, *, lock: bool = False) -> Row:
    row = key_queries.key(access.conn, project_id, key_id, lock=lock)
    if row is None:
        raise ApiError(404, "not_found", "key not found", "key_id")
    return row


def _active(access: Access, project_id: UUID, key_id: UUID, doing: str) -> Row:
    key = _key(access, project_id, key_id, lock=True)
    if not key["active"]:
        raise ApiError(409, "key_revoked", f"a revoked key cannot be {doing}", "key_id")
    return key


def _record(log: AuditedWrite, action: str, key: Row, **details: Any) -> None:
    # The prefix identifies the key in the log without copying it around.
    key_details = {"project_id": str(key["project_id"]), "key": key["public_key"][:10]}
    log.record(action, "ingest_key", key["id"], {**key_details, **details})


def _insert(access: Access, project_id: UUID, label: str, origins: list[str]) -> Row:
    key_id = key_store.insert_key(
        access.conn, project_id, key_store.new_public_key(), label, origins
    )
    return _key(access, project_id, key_id)


def get(access: Access, project_id: UUID, key_id: UUID) -> Row:
    access.project(project_id)
    return _key(access, project_id, key_id)


def create(access: Access, project_id: UUID, label: str, origins: list[str], ip: str | None) -> Row:
    project = access.project(project_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        key = _insert(access, project_id, label, origins)
        _record(log, "key.created", key, label=label)
    return key


def update(
    access: Access,
    project_id: UUID,
    key_id: UUID,
    changes: dict[str, Any],
    ip: str | None,
) -> Row:
    """Set the ``label`` and ``allowed_origins`` that ``changes`` holds."""
    project = access.project(project_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        key = _active(access, project_id, key_id, "changed")
        if changes:
            key_store.update_key(
                access.conn,
                key_id,
                label=changes.get("label"),
                origins=changes.get("allowed_origins"),
            )
            _record(log, "key.updated", key, **changes)
    return _key(access, project_id, key_id)


def revoke(access: Access, project_id: UUID, key_id: UUID, ip: str | None) -> Row:
    project = access.project(project_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        key = _key(access, project_id, key_id, lock=True)
        # Revoking twice is not an error: the key ends up revoked either way.
        if key["active"]:
            key_store.revoke_key_id(access.conn, key_id)
            _record(log, "key.revoked", key)
    return _key(access, project_id, key_id)


def rotate(access: Access, project_id: UUID, key_id: UUID, ip: str | None) -> Row:
    """A new key with the old one's label and origins; the old one is revoked."""
    project = access.project(project_id, need=Role.ADMIN)
    with audited(access.conn, access.user_id, ip, project["organization_id"]) as log:
        old = _active(access, project_id, key_id, "rotated")
        new = _insert(access, project_id, old["label"], old["allowed_origins"])
        key_store.revoke_key_id(access.conn, key_id)
        _record(log, "key.rotated", old, replaced_by=str(new["id"]))
    return new
