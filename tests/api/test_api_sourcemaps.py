"""Uploading source maps through the API: who may, what is refused (and then nothing stored),
and the per-file and per-project limits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from logsight.config import Settings
from logsight.sourcemap_upload import upload_directory
from tests.support.api import ApiCaller, make_member, make_team

DIST = Path(__file__).parent.parent / "fixtures" / "sourcemaps" / "dist"
MAP = (DIST / "app.min.js.map").read_bytes()
BUNDLE = (DIST / "app.min.js").read_bytes()


@pytest.fixture
def limited(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"artifact_max_bytes": 4096, "artifact_project_max_bytes": 2 * len(MAP) + 10}
    )


@pytest.fixture
def api(limited: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(limited)
    yield caller
    caller.close()


@pytest.fixture
def team(api: ApiCaller, db: psycopg.Connection) -> dict[str, Any]:
    return make_team(api, db)


def path(team: dict[str, Any]) -> str:
    return f"/api/projects/{team['project']['id']}/sourcemaps"


def send(api: ApiCaller, team: dict[str, Any], token: str, url: str, content: bytes) -> Any:
    return api(
        "POST",
        path(team),
        token=token,
        raw=content,
        query=f"url={url}&release=1",
        headers={"content-type": "application/octet-stream"},
    )


def stored(db: psycopg.Connection, team: dict[str, Any]) -> int:
    row = db.execute(
        "SELECT count(*) FROM artifacts WHERE project_id = %s", (team["project"]["id"],)
    ).fetchone()
    assert row is not None
    return int(row[0])


def test_members_upload_and_every_member_lists(api: ApiCaller, team: dict[str, Any]) -> None:
    for role in ("owner", "admin", "member"):
        reply = send(api, team, team[role].token, "~/app.min.js.map", MAP)
        assert reply.status == 201, reply.body
    assert send(api, team, team["member"].token, "~/app.min.js", BUNDLE).status == 201
    listed = api("GET", path(team), token=team["viewer"].token)
    assert listed.status == 200
    kinds = {(item["url"], item["kind"]) for item in listed.body["data"]}
    assert ("~/app.min.js", "minified_source") in kinds
    bundle = next(i for i in listed.body["data"] if i["url"] == "~/app.min.js")
    assert bundle["sourcemap_url"] == "app.min.js.map"
    assert "content" not in bundle


def test_viewers_read_only_tokens_and_other_organizations_store_nothing(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    viewer = send(api, team, team["viewer"].token, "~/a.js.map", MAP)
    assert viewer.status == 403
    read_only = make_member(db, team["org"], "owner", scope="read")
    scoped = send(api, team, read_only.token, "~/a.js.map", MAP)
    assert (scoped.status, scoped.error["code"]) == (403, "insufficient_scope")
    outsider = make_team(api, db, "other")
    foreign = send(api, team, outsider["owner"].token, "~/a.js.map", MAP)
    assert foreign.status == 404
    assert stored(db, team) == 0


def test_bad_uploads_answer_clearly_and_store_nothing(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    token = team["member"].token
    not_a_map = send(api, team, token, "~/app.js.map", b'{"hello": "world"}')
    assert (not_a_map.status, not_a_map.error["code"]) == (400, "not_a_source_map")
    assert not_a_map.error["field"] == "body"
    not_json = send(api, team, token, "~/app.js.map", BUNDLE)
    assert not_json.error["code"] == "not_a_source_map"
    oversize = send(api, team, token, "~/big.js", b"x" * 4097)
    assert (oversize.status, oversize.error["code"]) == (413, "artifact_too_large")
    no_url = api(
        "POST",
        path(team),
        token=token,
        raw=MAP,
        headers={"content-type": "application/octet-stream"},
    )
    assert no_url.status == 422
    assert stored(db, team) == 0


def test_the_project_storage_cap_counts_replacements_once(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    token = team["member"].token
    assert send(api, team, token, "~/a.js.map", MAP).status == 201
    assert send(api, team, token, "~/b.js.map", MAP).status == 201
    # The same release and URL again replaces the file: the project's total does not grow.
    assert send(api, team, token, "~/b.js.map", MAP).status == 201
    full = send(api, team, token, "~/c.js.map", MAP)
    assert (full.status, full.error["code"]) == (413, "artifact_storage_full")
    assert stored(db, team) == 2


def test_a_build_directory_uploads_as_tilde_urls(
    api: ApiCaller, team: dict[str, Any], db: psycopg.Connection
) -> None:
    # The CLI's own code against the app served in-process (what `logsight sourcemaps upload`
    # does over the network).
    with TestClient(api.app, base_url="http://testserver") as client:
        client.headers["authorization"] = f"Bearer {team['member'].token}"
        done = upload_directory(
            client, team["project"]["id"], DIST, release="shop@2", url_prefix="~/assets"
        )
    assert [(item.url, item.status) for item in done] == [
        ("~/assets/app.min.js", 201),
        ("~/assets/app.min.js.map", 201),
    ]
    rows = db.execute(
        "SELECT url, kind, release FROM artifacts WHERE project_id = %s ORDER BY url",
        (team["project"]["id"],),
    ).fetchall()
    assert rows == [
        ("~/assets/app.min.js", "minified_source", "shop@2"),
        ("~/assets/app.min.js.map", "source_map", "shop@2"),
    ]
