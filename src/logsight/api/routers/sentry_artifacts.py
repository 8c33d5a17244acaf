"""The part of Sentry's API that sentry-cli's ``sourcemaps upload`` (and the bundler plugins
built on it) calls: the chunk upload options, the chunk upload, and the artifact bundle
assembly. The auth token is a LogSight API token with write scope; the organization is its
slug. Answers are Sentry's shapes (errors too are LogSight's usual ones)."""

from __future__ import annotations

from typing import Annotated, Any

# FastAPI imports python-multipart only when a File() field is parsed; importing it here names
# the dependency where it is used, so the api's Lambda asset (built from imports) carries it.
import python_multipart  # noqa: F401
from fastapi import APIRouter, File, Path, UploadFile
from pydantic import BaseModel, Field

from logsight.api.deps import ClientIp, CurrentAccess, Services
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.routers.organizations import SLUG_PATTERN
from logsight.api.routers.sourcemaps import limits
from logsight.tenancy import sentry_artifacts

router = APIRouter(
    prefix="/0/organizations/{organization}", tags=["sentry-cli"], responses=ERROR_RESPONSES
)

CHUNK_SIZE = 1024 * 1024
CHUNKS_PER_REQUEST = 4
Checksum = Annotated[str, Field(pattern=r"^[0-9a-f]{40}$")]
Organization = Annotated[
    str, Path(max_length=63, pattern=SLUG_PATTERN, description="The organization's slug.")
]


@router.get("/chunk-upload/", summary="Chunk upload options (sentry-cli)")
def chunk_options(
    organization: Organization, access: CurrentAccess, svc: Services
) -> dict[str, Any]:
    sentry_artifacts.organization(access, organization)
    # Absolute, as Sentry answers; the public URL, since behind API Gateway or CloudFront the
    # request's own scheme and host are not the ones clients use.
    base = svc.settings.public_url.rstrip("/")
    return {
        "url": f"{base}/api/0/organizations/{organization}/chunk-upload/",
        "chunkSize": CHUNK_SIZE,
        "chunksPerRequest": CHUNKS_PER_REQUEST,
        "maxRequestSize": CHUNK_SIZE * CHUNKS_PER_REQUEST + 64 * 1024,
        "maxFileSize": svc.settings.artifact_max_bytes * 8,
        "maxWait": 60,
        "concurrency": 1,
        "hashAlgorithm": "sha1",
        "compression": [],
        "accept": ["artifact_bundles"],
    }


@router.post("/chunk-upload/", summary="Upload chunks named by their SHA-1 (sentry-cli)")
def upload_chunks(
    organization: Organization,
    access: CurrentAccess,
    svc: Services,
    file: Annotated[list[UploadFile], File(max_length=CHUNKS_PER_REQUEST)],
) -> dict[str, int]:
    chunks = [upload.file.read() for upload in file]
    return {"chunks": sentry_artifacts.store_chunks(access, organization, chunks, limits(svc))}


class AssembleRequest(BaseModel):
    checksum: Checksum
    chunks: list[Checksum] = Field(max_length=1024)
    projects: list[str] = Field(min_length=1, max_length=32)
    version: str | None = Field(default=None, max_length=250)
    dist: str | None = Field(default=None, max_length=64)


@router.post("/artifactbundle/assemble/", summary="Assemble an artifact bundle (sentry-cli)")
def assemble(
    organization: Organization,
    body: AssembleRequest,
    access: CurrentAccess,
    svc: Services,
    ip: ClientIp,
) -> dict[str, Any]:
    result = sentry_artifacts.assemble(
        access,
        organization,
        checksum=body.checksum,
        chunks=body.chunks,
        projects=body.projects,
        release=body.version or "",
        dist=body.dist or "",
        limits=limits(svc),
        ip=ip,
    )
    return {"state": result.state, "missingChunks": result.missing, "detail": result.detail}
