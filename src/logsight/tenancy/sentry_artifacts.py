"""Sentry's artifact bundles, as sentry-cli uploads them (``sourcemaps upload``, and the bundler
plugins built on it): chunks named by their SHA-1, then a request to assemble a bundle from
them for some projects of the organization. A bundle is a zip (after symbolic's ``SYSB``
header) holding ``manifest.json`` and the files it describes; each file becomes an artifact
through the same checks and limits as the plain upload (logsight.tenancy.artifacts)."""

from __future__ import annotations

import hashlib
import io
import zipfile
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from logsight.errors import ApiError
from logsight.storage import artifacts as store
from logsight.storage.artifacts import MINIFIED_SOURCE, SOURCE_MAP, Artifact
from logsight.tenancy import artifacts
from logsight.tenancy.access import Access, Role, not_found
from logsight.tenancy.artifacts import Limits

_BUNDLE_HEADER = b"SYSB"
_KINDS = {"source_map": SOURCE_MAP, "minified_source": MINIFIED_SOURCE}


@dataclass(frozen=True, slots=True)
class Assembly:
    state: str  # Sentry's ChunkFileState: ok, not_found, error
    missing: list[str] = field(default_factory=list)
    detail: str | None = None


def organization(access: Access, slug: str, need: Role = Role.VIEWER) -> UUID:
    for org in access.organizations():
        if org["slug"] == slug:
            access.organization(org["id"], need)
            return UUID(str(org["id"]))
    raise not_found("organization", "organization")


def store_chunks(access: Access, slug: str, chunks: list[bytes], limits: Limits) -> int:
    organization_id = organization(access, slug, Role.MEMBER)
    with access.conn.transaction():
        for chunk in chunks:
            if len(chunk) > limits.file_bytes:
                raise ApiError(413, "artifact_too_large", "a chunk is over the size limit", "file")
            # Sentry names chunks by their SHA-1: an identifier, not a security measure.
            checksum = hashlib.sha1(chunk, usedforsecurity=False).hexdigest()
            store.store_chunk(access.conn, organization_id, checksum, chunk)
    return len(chunks)


def _files(bundle: bytes) -> tuple[dict[str, Any], zipfile.ZipFile]:
    data = bundle[8:] if bundle.startswith(_BUNDLE_HEADER) else bundle
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        manifest = orjson.loads(archive.read("manifest.json"))
    except (zipfile.BadZipFile, KeyError, orjson.JSONDecodeError) as exc:
        raise ApiError(400, "invalid_bundle", f"not an artifact bundle: {exc}", "chunks") from exc
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        raise ApiError(400, "invalid_bundle", "the bundle's manifest lists no files", "chunks")
    return manifest, archive


def _artifacts(bundle: bytes, release: str, dist: str, limits: Limits) -> list[Artifact]:
    manifest, archive = _files(bundle)
    found: list[Artifact] = []
    for name, info in manifest["files"].items():
        kind = _KINDS.get(str(info.get("type"))) if isinstance(info, dict) else None
        if kind is None or not isinstance(info.get("url"), str):
            continue  # sources and indexed maps Sentry keeps for display: not needed here
        member = archive.getinfo(name)
        if member.file_size > limits.file_bytes:
            raise ApiError(413, "artifact_too_large", f"{info['url']} is over the limit", "chunks")
        headers = {str(k).lower(): v for k, v in (info.get("headers") or {}).items()}
        debug_id = headers.get("debug-id")
        found.append(
            Artifact(
                kind,
                info["url"],
                archive.read(name),
                release or str(manifest.get("release") or ""),
                dist or str(manifest.get("dist") or ""),
                UUID(debug_id) if isinstance(debug_id, str) else None,
                headers.get("sourcemap") if isinstance(headers.get("sourcemap"), str) else None,
            )
        )
    return found


def assemble(
    access: Access,
    slug: str,
    *,
    checksum: str,
    chunks: list[str],
    projects: list[str],
    release: str,
    dist: str,
    limits: Limits,
    ip: str | None,
) -> Assembly:
    organization_id = organization(access, slug, Role.MEMBER)
    project_ids = []
    for project in projects:
        found = store.project_in_organization(access.conn, organization_id, project)
        if found is None:
            raise not_found(f"project {project!r}", "projects")
        project_ids.append(found)
    present = store.chunk_checksums(access.conn, organization_id, chunks)
    missing = [c for c in chunks if c not in present]
    if missing:
        return Assembly("not_found", missing)
    contents = store.chunks(access.conn, organization_id, chunks)
    bundle = b"".join(contents[c] for c in chunks)
    if hashlib.sha1(bundle, usedforsecurity=False).hexdigest() != checksum:
        return Assembly("error", detail="the chunks do not add up to the checksum")
    try:
        files = _artifacts(bundle, release, dist, limits)
        for project_id in project_ids:
            artifacts.upload(access, project_id, files, limits, ip, field="chunks")
    except ApiError as exc:
        return Assembly("error", detail=exc.message)
    with access.conn.transaction():
        store.delete_chunks(access.conn, organization_id, chunks)
    return Assembly("ok")
