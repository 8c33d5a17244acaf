"""Sentry's artifact bundle endpoints (what sentry-cli calls) through the API: missing chunks,
bundles that are not, another organization's projects, roles and scopes; the real sentry-cli
against `logsight local` is in tests/ingest/test_sentry_cli_sourcemaps.py."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from logsight.config import Settings
from tests.support.api import ApiCaller, make_member, make_team

DIST = Path(__file__).parent.parent / "fixtures" / "sourcemaps" / "dist"
MAP = (DIST / "app.min.js.map").read_bytes()
BUNDLE = (DIST / "app.min.js").read_bytes()
BOUNDARY = "logsight-test-boundary"


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    team = make_team(api, db)
    row = db.execute("SELECT slug FROM organizations WHERE id = %s", (team["org"],)).fetchone()
    assert row is not None
    team["slug"] = row[0]
    return team


def artifact_bundle(source_map: bytes = MAP) -> bytes:
    """The layout sentry-cli 3.8 writes: symbolic's SYSB header, then a zip with a manifest."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("files/_/_/app.min.js", BUNDLE)
        archive.writestr("files/_/_/app.min.js.map", source_map)
        files = {
            "files/_/_/app.min.js": {
                "type": "minified_source",
                "url": "~/app.min.js",
                "headers": {"sourcemap": "app.min.js.map"},
            },
            "files/_/_/app.min.js.map": {"type": "source_map", "url": "~/app.min.js.map"},
        }
        archive.writestr("manifest.json", orjson.dumps({"files": files}))
    return b"SYSB\x02\x00\x00\x00" + out.getvalue()


def sha1(data: bytes) -> str:
    return hashlib.sha1(data, usedforsecurity=False).hexdigest()


def upload_chunk(api: ApiCaller, team: dict[str, Any], token: str, chunk: bytes) -> Any:
    body = (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{sha1(chunk)}"'
            "\r\nContent-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + chunk
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )
    return api(
        "POST",
        f"/api/0/organizations/{team['slug']}/chunk-upload/",
        token=token,
        raw=body,
        headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
    )


def assemble(api: ApiCaller, team: dict[str, Any], token: str, bundle: bytes, **extra: Any) -> Any:
    return api(
        "POST",
        f"/api/0/organizations/{team['slug']}/artifactbundle/assemble/",
        token=token,
        json={
            "checksum": sha1(bundle),
            "chunks": [sha1(bundle)],
            "projects": [team["project"]["slug"]],
            **extra,
        },
    )


def stored(db: psycopg.Connection, team: dict[str, Any]) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT url, kind, release FROM artifacts WHERE project_id = %s ORDER BY url",
        (team["project"]["id"],),
    ).fetchall()


def test_missing_chunks_then_an_assembled_bundle(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    token = team["member"].token
    options = api("GET", f"/api/0/organizations/{team['slug']}/chunk-upload/", token=token)
    assert options.status == 200
    assert options.body["url"].endswith(f"/api/0/organizations/{team['slug']}/chunk-upload/")
    assert "artifact_bundles" in options.body["accept"]

    bundle = artifact_bundle()
    first = assemble(api, team, token, bundle, version="shop@1")
    assert first.body == {"state": "not_found", "missingChunks": [sha1(bundle)], "detail": None}
    assert upload_chunk(api, team, token, bundle).status == 200
    done = assemble(api, team, token, bundle, version="shop@1")
    assert done.body["state"] == "ok", done.body
    assert stored(db, team) == [
        ("~/app.min.js", "minified_source", "shop@1"),
        ("~/app.min.js.map", "source_map", "shop@1"),
    ]


def test_a_bundle_holding_no_source_map_is_an_error_and_stores_nothing(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    token = team["member"].token
    for bundle in (artifact_bundle(b'{"not": "a map"}'), b"SYSB\x02\x00\x00\x00not a zip"):
        assert upload_chunk(api, team, token, bundle).status == 200
        reply = assemble(api, team, token, bundle)
        assert reply.body["state"] == "error"
        assert reply.body["detail"]
    assert stored(db, team) == []


def test_other_organizations_viewers_and_read_only_tokens_are_refused(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    bundle = artifact_bundle()
    assert upload_chunk(api, team, team["viewer"].token, bundle).status == 403
    read_only = make_member(db, team["org"], "owner", scope="read")
    assert upload_chunk(api, team, read_only.token, bundle).status == 403
    outsider = make_team(api, db, "elsewhere")
    assert upload_chunk(api, team, outsider["owner"].token, bundle).status == 404
    # A member of this organization naming a project of another one.
    assert upload_chunk(api, team, team["member"].token, bundle).status == 200
    foreign = assemble(
        api, team, team["member"].token, bundle, projects=[outsider["project"]["slug"]]
    )
    assert foreign.status == 404
    assert stored(db, team) == []
