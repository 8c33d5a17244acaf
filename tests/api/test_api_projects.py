"""The projects resource through Mangum: roles, tenancy, pagination, errors."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from logsight.config import Settings
from tests.support.api import ApiCaller, Member, make_member, make_organization


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def org(db: psycopg.Connection) -> dict[str, Member]:
    org_id = make_organization(db)
    return {
        role: make_member(db, org_id, role) for role in ("owner", "admin", "member", "viewer")
    } | {
        "_org": org_id  # type: ignore[dict-item]
    }


def test_admin_creates_and_everyone_reads(api: ApiCaller, org: dict[str, Member]) -> None:
    org_id = org["_org"]
    created = api(
        "POST",
        "/api/projects",
        token=org["admin"].token,
        json={"organization_id": str(org_id), "name": "Web Shop"},
    )
    assert created.status == 201, created.body
    assert created.body["slug"] == "web-shop"
    assert created.body["ingest_key"].startswith("lsk_")
    assert created.body["retention_days"] == 30
    number = created.body["number"]
    assert created.body["dsn"] == f"http://{created.body['ingest_key']}@127.0.0.1:8000/{number}"
    for role in ("owner", "admin", "member", "viewer"):
        got = api("GET", f"/api/projects/{created.body['id']}", token=org[role].token)
        assert got.status == 200
        assert got.body["role"] == role
    duplicate = api(
        "POST",
        "/api/projects",
        token=org["owner"].token,
        json={"organization_id": str(org_id), "name": "web shop"},
    )
    assert duplicate.status == 409
    assert duplicate.error["field"] == "name"


@pytest.mark.parametrize("role", ["member", "viewer"])
def test_members_and_viewers_cannot_manage_projects(
    api: ApiCaller, org: dict[str, Member], role: str
) -> None:
    org_id = org["_org"]
    denied = api(
        "POST",
        "/api/projects",
        token=org[role].token,
        json={"organization_id": str(org_id), "name": "x"},
    )
    assert denied.status == 403
    assert denied.error["code"] == "forbidden"


def test_other_tenants_get_404(
    api: ApiCaller, org: dict[str, Member], db: psycopg.Connection
) -> None:
    project = api(
        "POST",
        "/api/projects",
        token=org["admin"].token,
        json={"organization_id": str(org["_org"]), "name": "secret"},
    ).body
    stranger = make_member(db, make_organization(db), "owner")
    for method, json in (("GET", None), ("PATCH", {"name": "mine"}), ("DELETE", None)):
        reply = api(method, f"/api/projects/{project['id']}", token=stranger.token, json=json)
        assert reply.status == 404, (method, reply.body)
    assert api("GET", "/api/projects", token=stranger.token).body["data"] == []
    creating = api(
        "POST",
        "/api/projects",
        token=stranger.token,
        json={"organization_id": str(org["_org"]), "name": "x"},
    )
    assert creating.status == 404


def test_update_and_delete(api: ApiCaller, org: dict[str, Member]) -> None:
    project = api(
        "POST",
        "/api/projects",
        token=org["owner"].token,
        json={"organization_id": str(org["_org"]), "name": "p"},
    ).body
    updated = api(
        "PATCH",
        f"/api/projects/{project['id']}",
        token=org["admin"].token,
        json={"retention_days": 7},
    )
    assert updated.status == 200
    assert updated.body["retention_days"] == 7
    bad = api(
        "PATCH",
        f"/api/projects/{project['id']}",
        token=org["admin"].token,
        json={"retention_days": 0},
    )
    assert bad.status == 422
    assert bad.error["field"] == "body.retention_days"
    assert api("DELETE", f"/api/projects/{project['id']}", token=org["admin"].token).status == 204
    assert api("GET", f"/api/projects/{project['id']}", token=org["admin"].token).status == 404


def test_pagination_with_cursors(api: ApiCaller, org: dict[str, Member]) -> None:
    ids = [
        api(
            "POST",
            "/api/projects",
            token=org["owner"].token,
            json={"organization_id": str(org["_org"]), "name": f"p{i}"},
        ).body["id"]
        for i in range(5)
    ]
    seen: list[str] = []
    cursor = None
    while True:
        query = f"limit=2&organization_id={org['_org']}" + (f"&cursor={cursor}" if cursor else "")
        page = api("GET", "/api/projects", token=org["viewer"].token, query=query).body
        seen.extend(p["id"] for p in page["data"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    assert api("GET", "/api/projects", token=org["viewer"].token, query="cursor=%%%").status == 400


def test_authentication_is_required(api: ApiCaller) -> None:
    missing = api("GET", "/api/projects")
    assert missing.status == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert api("GET", "/api/projects", token="lst_nope").status == 401
    assert api("GET", "/api/projects", headers={"authorization": "Basic abc"}).status == 401


def test_read_only_tokens_cannot_write(api: ApiCaller, db: psycopg.Connection) -> None:
    org_id = make_organization(db)
    reader = make_member(db, org_id, "owner", scope="read")
    reply = api(
        "POST",
        "/api/projects",
        token=reader.token,
        json={"organization_id": str(org_id), "name": "x"},
    )
    assert reply.status == 403
    assert reply.error["code"] == "insufficient_scope"
    assert api("GET", "/api/projects", token=reader.token).status == 200


def test_openapi_and_docs(api: ApiCaller) -> None:
    schema = api("GET", "/api/openapi.json")
    assert schema.status == 200
    assert "ProjectCreate" in schema.body["components"]["schemas"]
    assert "ProjectPublic" in schema.body["components"]["schemas"]
    assert api("GET", "/api/docs").status == 200
    assert api("GET", "/docs").status == 307
    assert api("GET", f"/api/projects/{uuid4()}", token="lst_x").status == 401
