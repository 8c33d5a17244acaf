"""The ``artifacts`` table: source maps and minified files, written by uploads
(logsight.tenancy.artifacts) and read by the processor's resolver (logsight.processing.sourcemaps).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from uuid import UUID

import psycopg

SOURCE_MAP = "source_map"
MINIFIED_SOURCE = "minified_source"

# The comments bundlers and sentry-cli append to a minified file (the last occurrence wins).
_DEBUG_ID_COMMENT = re.compile(rb"//# debugId=([0-9a-fA-F-]{32,36})")
_SOURCEMAP_COMMENT = re.compile(rb"//[#@] sourceMappingURL=(\S+)")


@dataclass(frozen=True, slots=True)
class Artifact:
    kind: str
    url: str
    content: bytes
    release: str = ""
    dist: str = ""
    debug_id: UUID | None = None
    sourcemap_url: str | None = None


@dataclass(frozen=True, slots=True)
class StoredMap:
    """What the resolver needs of one source map (and of the file it describes, when stored)."""

    id: UUID
    sha256: str
    content: bytes
    minified: bytes | None


def comment_debug_id(content: bytes) -> UUID | None:
    found = _DEBUG_ID_COMMENT.findall(content[-4096:])
    try:
        return UUID(found[-1].decode()) if found else None
    except ValueError:
        return None


def comment_sourcemap_url(content: bytes) -> str | None:
    found = _SOURCEMAP_COMMENT.findall(content[-4096:])
    return found[-1].decode("utf-8", "replace") if found else None


def project_usage(conn: psycopg.Connection, project_id: UUID) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(size), 0) FROM artifacts WHERE project_id = %s", (project_id,)
    ).fetchone()
    return int(row[0]) if row else 0


def lock_project(conn: psycopg.Connection, project_id: UUID) -> None:
    """Serializes a project's uploads in the transaction, so two cannot both pass its cap."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext('artifacts:' || %s::text))", (project_id,))


def replaced_size(conn: psycopg.Connection, project_id: UUID, artifact: Artifact) -> int:
    row = conn.execute(
        "SELECT size FROM artifacts WHERE project_id = %s AND release = %s AND dist = %s"
        " AND url = %s AND kind = %s",
        (project_id, artifact.release, artifact.dist, artifact.url, artifact.kind),
    ).fetchone()
    return int(row[0]) if row else 0


def upsert(conn: psycopg.Connection, project_id: UUID, artifact: Artifact) -> UUID:
    """Stores the file; the same release, dist, URL and kind uploaded again replaces it."""
    row = conn.execute(
        "INSERT INTO artifacts (project_id, kind, release, dist, url, debug_id, sourcemap_url,"
        " content, size, sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (project_id, release, dist, url, kind) DO UPDATE SET"
        " debug_id = excluded.debug_id, sourcemap_url = excluded.sourcemap_url,"
        " content = excluded.content, size = excluded.size, sha256 = excluded.sha256,"
        " created_at = now() RETURNING id",
        (
            project_id,
            artifact.kind,
            artifact.release,
            artifact.dist,
            artifact.url,
            artifact.debug_id,
            artifact.sourcemap_url,
            artifact.content,
            len(artifact.content),
            hashlib.sha256(artifact.content).hexdigest(),
        ),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def has_artifacts(conn: psycopg.Connection, project_id: UUID) -> bool:
    return (
        conn.execute(
            "SELECT EXISTS (SELECT 1 FROM artifacts WHERE project_id = %s)", (project_id,)
        ).fetchone()
        or (False,)
    )[0] is True


def map_by_debug_id(conn: psycopg.Connection, project_id: UUID, debug_id: UUID) -> StoredMap | None:
    row = conn.execute(
        "SELECT m.id, m.sha256, m.content, (SELECT s.content FROM artifacts s"
        "  WHERE s.project_id = m.project_id AND s.debug_id = m.debug_id"
        "  AND s.kind = 'minified_source' ORDER BY s.created_at DESC LIMIT 1)"
        " FROM artifacts m WHERE m.project_id = %s AND m.debug_id = %s AND m.kind = 'source_map'"
        " ORDER BY m.created_at DESC LIMIT 1",
        (project_id, debug_id),
    ).fetchone()
    return StoredMap(row[0], row[1], bytes(row[2]), _bytes(row[3])) if row else None


def minified_by_url(
    conn: psycopg.Connection, project_id: UUID, release: str, dist: str, urls: list[str]
) -> tuple[str, str | None, bytes] | None:
    """The first of ``urls`` stored as a minified file: (its URL, its source map URL, content)."""
    row = conn.execute(
        "SELECT url, sourcemap_url, content FROM artifacts WHERE project_id = %s AND release = %s"
        " AND dist = %s AND kind = 'minified_source' AND url = ANY(%s)"
        " ORDER BY array_position(%s, url) LIMIT 1",
        (project_id, release, dist, urls, urls),
    ).fetchone()
    return (row[0], row[1], bytes(row[2])) if row else None


def map_by_url(
    conn: psycopg.Connection, project_id: UUID, release: str, dist: str, urls: list[str]
) -> StoredMap | None:
    row = conn.execute(
        "SELECT id, sha256, content FROM artifacts WHERE project_id = %s AND release = %s"
        " AND dist = %s AND kind = 'source_map' AND url = ANY(%s)"
        " ORDER BY array_position(%s, url) LIMIT 1",
        (project_id, release, dist, urls, urls),
    ).fetchone()
    return StoredMap(row[0], row[1], bytes(row[2]), None) if row else None


def _bytes(value: object) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | memoryview | bytearray) else None


def project_in_organization(
    conn: psycopg.Connection, organization_id: UUID, slug: str
) -> UUID | None:
    row = conn.execute(
        "SELECT id FROM projects WHERE organization_id = %s AND slug = %s",
        (organization_id, slug),
    ).fetchone()
    return UUID(str(row[0])) if row else None


def store_chunk(
    conn: psycopg.Connection, organization_id: UUID, checksum: str, content: bytes
) -> None:
    conn.execute(
        "INSERT INTO artifact_chunks (organization_id, checksum, content) VALUES (%s, %s, %s)"
        " ON CONFLICT (organization_id, checksum) DO UPDATE SET created_at = now()",
        (organization_id, checksum, content),
    )


def chunks(
    conn: psycopg.Connection, organization_id: UUID, checksums: list[str]
) -> dict[str, bytes]:
    rows = conn.execute(
        "SELECT checksum, content FROM artifact_chunks WHERE organization_id = %s"
        " AND checksum = ANY(%s)",
        (organization_id, checksums),
    ).fetchall()
    return {row[0]: bytes(row[1]) for row in rows}


def chunk_checksums(
    conn: psycopg.Connection, organization_id: UUID, checksums: list[str]
) -> set[str]:
    rows = conn.execute(
        "SELECT checksum FROM artifact_chunks WHERE organization_id = %s AND checksum = ANY(%s)",
        (organization_id, checksums),
    ).fetchall()
    return {row[0] for row in rows}


def delete_chunks(conn: psycopg.Connection, organization_id: UUID, checksums: list[str]) -> None:
    conn.execute(
        "DELETE FROM artifact_chunks WHERE organization_id = %s AND checksum = ANY(%s)",
        (organization_id, checksums),
    )


def delete_stale_chunks(conn: psycopg.Connection) -> int:
    """Chunks of bundles never assembled (an upload that stopped half-way)."""
    return conn.execute(
        "DELETE FROM artifact_chunks WHERE created_at < now() - interval '1 day'"
    ).rowcount
