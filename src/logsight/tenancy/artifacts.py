"""Uploading source maps and minified files (members with a write-scoped token or session):
each file checked, the project's storage cap enforced, everything stored or nothing."""

from __future__ import annotations

from dataclasses import dataclass, replace
from uuid import UUID

from logsight import sourcemap_format
from logsight.errors import ApiError
from logsight.storage import artifacts as store
from logsight.storage.artifacts import Artifact
from logsight.tenancy.access import Access, Role


@dataclass(frozen=True, slots=True)
class Limits:
    file_bytes: int
    project_bytes: int


def _checked(artifact: Artifact, limits: Limits, field: str) -> Artifact:
    if len(artifact.content) > limits.file_bytes:
        raise ApiError(
            413,
            "artifact_too_large",
            f"{artifact.url} is {len(artifact.content)} bytes; the limit is {limits.file_bytes}",
            field,
        )
    if not artifact.url or len(artifact.url) > 2048:
        raise ApiError(400, "invalid_url", "a file needs a URL of at most 2048 characters", field)
    if artifact.kind == store.SOURCE_MAP:
        try:
            found = sourcemap_format.check(artifact.content)
        except sourcemap_format.NotASourceMap as exc:
            raise ApiError(
                400, "not_a_source_map", f"{artifact.url} is not a source map: {exc}", field
            ) from exc
        if artifact.debug_id is None and found:
            artifact = replace(artifact, debug_id=_uuid(found, field))
        return artifact
    return replace(
        artifact,
        debug_id=artifact.debug_id or store.comment_debug_id(artifact.content),
        sourcemap_url=artifact.sourcemap_url or store.comment_sourcemap_url(artifact.content),
    )


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ApiError(400, "invalid_debug_id", f"{value!r} is not a debug id", field) from exc


def upload(
    access: Access,
    project_id: UUID,
    files: list[Artifact],
    limits: Limits,
    ip: str | None,
    *,
    field: str = "file",
) -> list[UUID]:
    access.project(project_id, need=Role.MEMBER)
    checked = [_checked(artifact, limits, field) for artifact in files]
    with access.conn.transaction():
        store.lock_project(access.conn, project_id)
        used = store.project_usage(access.conn, project_id)
        replaced = sum(store.replaced_size(access.conn, project_id, a) for a in checked)
        adding = sum(len(a.content) for a in checked)
        if used - replaced + adding > limits.project_bytes:
            raise ApiError(
                413,
                "artifact_storage_full",
                f"the project stores {used} bytes of source maps; {adding} more would pass its"
                f" limit of {limits.project_bytes}",
                field,
            )
        return [store.upsert(access.conn, project_id, a) for a in checked]
