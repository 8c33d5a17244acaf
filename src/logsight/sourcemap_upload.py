"""``logsight sourcemaps upload DIR``: a build directory's bundles and source maps sent to the
API's plain upload endpoint (POST /api/projects/{id}/sourcemaps), one file a request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SUFFIXES = (".js", ".mjs", ".cjs", ".map")


@dataclass(frozen=True, slots=True)
class Uploaded:
    path: Path
    url: str
    status: int
    body: Any


def files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*")):
        if path.is_file() and path.name.endswith(SUFFIXES):
            yield path


def upload_directory(
    client: httpx.Client,
    project: str,
    directory: Path,
    *,
    release: str,
    dist: str = "",
    url_prefix: str = "~/",
) -> list[Uploaded]:
    """Each file under ``directory`` as ``url_prefix`` + its relative path; stops at the
    first refusal (the answer says why)."""
    prefix = url_prefix if url_prefix.endswith("/") else f"{url_prefix}/"
    done: list[Uploaded] = []
    for path in files(directory):
        url = prefix + path.relative_to(directory).as_posix()
        reply = client.post(
            f"/api/projects/{project}/sourcemaps",
            params={"url": url, "release": release, "dist": dist},
            content=path.read_bytes(),
            headers={"content-type": "application/octet-stream"},
        )
        body = (
            reply.json()
            if reply.headers.get("content-type", "").startswith("application/json")
            else reply.text
        )
        done.append(Uploaded(path, url, reply.status_code, body))
        if reply.status_code >= 400:
            break
    return done
