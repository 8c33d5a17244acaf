"""Tenancy through the real Lambda path: organizations, members, invitations, ingest keys,
personal tokens, the audit log and dead letters."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import orjson
import psycopg
import pytest

from logsight.apigw import HttpRequest
from logsight.config import Settings
from logsight.ingest.app import build_ingest_service
from logsight.tenancy import api_tokens
from tests.support.api import ApiCaller, Member, make_member, make_organization, make_user
from tests.support.ingest import api_request
from tests.support.tenancy import Tenant, make_tenant


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def tenant(db: psycopg.Connection, database_url: str) -> Tenant:
    return make_tenant(db, database_url)


def audit_actions(api: ApiCaller, tenant: Tenant, query: str = "") -> list[str]:
    reply = api(
        "GET",
        f"/api/organizations/{tenant.organization_id}/audit",
        token=tenant.members["admin"].token,
        query=query,
    )
    assert reply.status == 200, reply.body
    return [entry["action"] for entry in reply.body["data"]]


def collect(api: ApiCaller, path: str, token: str, query: str = "limit=2") -> list[Any]:
    """Every item of a paginated list, following cursors."""
    items: list[Any] = []
    cursor = None
    while True:
        page = api("GET", path, token=token, query=query + (f"&cursor={cursor}" if cursor else ""))
        assert page.status == 200, page.body
        items.extend(page.body["data"])
        cursor = page.body["next_cursor"]
        if cursor is None:
            return items


# Organizations


def test_creator_becomes_owner_and_lists_are_paginated(
    api: ApiCaller, db: psycopg.Connection
) -> None:
    user = make_member(db, make_organization(db), "viewer")
    created = [
        api("POST", "/api/organizations", token=user.token, json={"name": f"Acme {i}"})
        for i in range(3)
    ]
    assert [c.status for c in created] == [201, 201, 201]
    assert created[0].body["role"] == "owner"
    assert created[0].body["slug"].startswith("acme-0")
    mine = collect(api, "/api/organizations", user.token)
    assert [o["id"] for o in mine][1:] == [c.body["id"] for c in created]
    assert [o["role"] for o in mine] == ["viewer", "owner", "owner", "owner"]
    got = api("GET", f"/api/organizations/{created[1].body['id']}", token=user.token)
    assert got.status == 200 and got.body["name"] == "Acme 1"


def test_slugs_are_unique_across_the_install(api: ApiCaller, db: psycopg.Connection) -> None:
    user = make_member(db, make_organization(db), "owner")
    slug = f"team-{uuid.uuid4().hex[:6]}"
    first = api("POST", "/api/organizations", token=user.token, json={"name": "T", "slug": slug})
    assert first.status == 201 and first.body["slug"] == slug
    taken = api("POST", "/api/organizations", token=user.token, json={"name": "T", "slug": slug})
    assert taken.status == 409 and taken.error["field"] == "slug"
    # A slug made from the name gets a suffix instead of failing.
    again = api("POST", "/api/organizations", token=user.token, json={"name": slug})
    assert again.status == 201 and again.body["slug"].startswith(f"{slug}-")
    bad = api("POST", "/api/organizations", token=user.token, json={"name": "x", "slug": "-No-"})
    assert bad.status == 422 and bad.error["field"] == "body.slug"
    nul = api("POST", "/api/organizations", token=user.token, json={"name": "a\x00b"})
    assert nul.status == 422


def test_only_owners_change_or_delete_the_organization(api: ApiCaller, tenant: Tenant) -> None:
    path = f"/api/organizations/{tenant.organization_id}"
    for role in ("admin", "member", "viewer"):
        token = tenant.members[role].token
        assert api("PATCH", path, token=token, json={"name": "x"}).status == 403
        assert api("DELETE", path, token=token).status == 403
    owner = tenant.members["owner"].token
    assert api("PATCH", path, token=tenant.reader.token, json={"name": "x"}).status == 403
    renamed = api("PATCH", path, token=owner, json={"name": "Renamed"})
    assert renamed.status == 200 and renamed.body["name"] == "Renamed"
    assert audit_actions(api, tenant, "action=organization.updated") == ["organization.updated"]
    assert api("DELETE", path, token=owner).status == 204
    assert api("GET", path, token=owner).status == 404
    assert api("GET", f"/api/projects/{tenant.project_id}", token=owner).status == 404


def test_read_only_tokens_cannot_create_organizations(api: ApiCaller, tenant: Tenant) -> None:
    reply = api("POST", "/api/organizations", token=tenant.reader.token, json={"name": "x"})
    assert reply.status == 403 and reply.error["code"] == "insufficient_scope"


# Members


def test_everyone_sees_the_members(api: ApiCaller, tenant: Tenant) -> None:
    path = f"/api/organizations/{tenant.organization_id}/members"
    members = collect(api, path, tenant.members["viewer"].token)
    assert {m["role"]: m["email"] for m in members} == {
        role: m.email for role, m in tenant.members.items()
    }


def test_admins_change_roles_but_only_owners_touch_the_owner_role(
    api: ApiCaller, tenant: Tenant
) -> None:
    org = tenant.organization_id
    admin, owner = tenant.members["admin"].token, tenant.members["owner"].token

    def set_role(token: str, who: Member, role: str) -> Any:
        return api(
            "PATCH",
            f"/api/organizations/{org}/members/{who.user_id}",
            token=token,
            json={"role": role},
        )

    assert (
        set_role(tenant.members["member"].token, tenant.members["viewer"], "member").status == 403
    )
    promoted = set_role(admin, tenant.members["member"], "admin")
    assert promoted.status == 200 and promoted.body["role"] == "admin"
    assert set_role(admin, tenant.members["viewer"], "member").body["role"] == "member"
    assert set_role(admin, tenant.members["viewer"], "owner").status == 403
    assert set_role(admin, tenant.members["admin"], "owner").status == 403
    assert set_role(admin, tenant.members["owner"], "admin").status == 403
    assert set_role(admin, tenant.members["viewer"], "boss").status == 422
    # The last owner stays.
    last = set_role(owner, tenant.members["owner"], "admin")
    assert last.status == 409 and last.error["code"] == "last_owner"
    assert set_role(owner, tenant.members["admin"], "owner").body["role"] == "owner"
    assert set_role(owner, tenant.members["owner"], "viewer").body["role"] == "viewer"
    stranger = uuid.uuid4()
    assert (
        api(
            "PATCH",
            f"/api/organizations/{org}/members/{stranger}",
            token=admin,
            json={"role": "viewer"},
        ).status
        == 404
    )
    assert audit_actions(api, tenant, "action=member.role_changed") == ["member.role_changed"] * 4


def test_removing_members_and_leaving(api: ApiCaller, tenant: Tenant) -> None:
    org = tenant.organization_id

    def remove(token: str, who: Member) -> int:
        return api("DELETE", f"/api/organizations/{org}/members/{who.user_id}", token=token).status

    m = tenant.members
    assert remove(m["viewer"].token, m["member"]) == 403
    assert remove(m["member"].token, m["viewer"]) == 403
    assert remove(m["admin"].token, m["owner"]) == 403
    assert remove(m["owner"].token, m["owner"]) == 409  # the last owner cannot leave
    assert remove(m["admin"].token, m["viewer"]) == 204
    assert remove(m["member"].token, m["member"]) == 204  # leaving
    assert api("GET", f"/api/organizations/{org}", token=m["member"].token).status == 404
    assert remove(m["admin"].token, m["member"]) == 404
    assert audit_actions(api, tenant, "action=member.*") == ["member.left", "member.removed"]


# Invitations


def test_invitation_lifecycle(api: ApiCaller, tenant: Tenant, db: psycopg.Connection) -> None:
    org = tenant.organization_id
    email = f"New.Person-{uuid.uuid4().hex[:6]}@Example.com"
    invite = api(
        "POST",
        f"/api/organizations/{org}/invitations",
        token=tenant.members["admin"].token,
        json={"email": email, "role": "admin"},
    )
    assert invite.status == 201, invite.body
    assert invite.body["email"] == email.lower() and invite.body["role"] == "admin"
    listed = api(
        "GET", f"/api/organizations/{org}/invitations", token=tenant.members["admin"].token
    )
    assert invite.body["id"] in [i["id"] for i in listed.body["data"]]

    invitee = make_member(db, make_organization(db), "owner")
    db.execute("UPDATE users SET email = %s WHERE id = %s", (email, invitee.user_id))
    other = make_member(db, make_organization(db), "owner")
    accept = f"/api/invitations/{invite.body['id']}/accept"
    assert api("GET", "/api/invitations", token=other.token).body["data"] == []
    assert api("POST", accept, token=other.token).status == 404
    mine = api("GET", "/api/invitations", token=invitee.token).body["data"]
    assert [(i["id"], i["organization_name"], i["role"]) for i in mine] == [
        (invite.body["id"], tenant.name, "admin")
    ]
    assert mine[0]["invited_by_email"] == tenant.members["admin"].email
    joined = api("POST", accept, token=invitee.token)
    assert joined.status == 200 and joined.body == {**joined.body, "id": str(org), "role": "admin"}
    assert api("POST", accept, token=invitee.token).status == 404
    assert api("GET", "/api/invitations", token=invitee.token).body["data"] == []
    assert api("GET", f"/api/projects/{tenant.project_id}", token=invitee.token).status == 200
    again = api(
        "POST",
        f"/api/organizations/{org}/invitations",
        token=tenant.members["admin"].token,
        json={"email": email},
    )
    assert again.status == 409 and again.error["code"] == "already_member"
    assert audit_actions(api, tenant, "action=invitation.*") == [
        "invitation.accepted",
        "invitation.created",
    ]


def test_invitation_rules(api: ApiCaller, tenant: Tenant, db: psycopg.Connection) -> None:
    org = tenant.organization_id
    path = f"/api/organizations/{org}/invitations"
    email = f"someone-{uuid.uuid4().hex[:6]}@example.com"
    for role in ("member", "viewer"):
        assert (
            api("POST", path, token=tenant.members[role].token, json={"email": email}).status == 403
        )
        assert api("GET", path, token=tenant.members[role].token).status == 403
    owner_invite = {"email": email, "role": "owner"}
    assert api("POST", path, token=tenant.members["admin"].token, json=owner_invite).status == 403
    assert api("POST", path, token=tenant.members["owner"].token, json=owner_invite).status == 201
    bad = api("POST", path, token=tenant.members["admin"].token, json={"email": "nope"})
    assert bad.status == 422 and bad.error["field"] == "body.email"

    # Inviting again renews: the first invitation no longer works.
    first = api("POST", path, token=tenant.members["admin"].token, json={"email": email}).body
    second = api("POST", path, token=tenant.members["admin"].token, json={"email": email}).body
    invitee = make_user(db, email)
    reader_token = make_token(db, invitee)
    assert api("POST", f"/api/invitations/{first['id']}/accept", token=reader_token).status == 404

    # Withdrawn invitations cannot be accepted; expired ones say so.
    assert (
        api("DELETE", f"{path}/{second['id']}", token=tenant.members["admin"].token).status == 204
    )
    assert (
        api("DELETE", f"{path}/{second['id']}", token=tenant.members["admin"].token).status == 404
    )
    assert api("POST", f"/api/invitations/{second['id']}/accept", token=reader_token).status == 404
    third = api("POST", path, token=tenant.members["admin"].token, json={"email": email}).body
    db.execute(
        "UPDATE invitations SET expires_at = now() - interval '1 second' WHERE id = %s",
        (third["id"],),
    )
    expired = api("POST", f"/api/invitations/{third['id']}/accept", token=reader_token)
    assert expired.status == 409 and expired.error["code"] == "invitation_expired"
    listed = api("GET", path, token=tenant.members["admin"].token).body["data"]
    assert third["id"] not in [i["id"] for i in listed]


def make_token(db: psycopg.Connection, user_id: uuid.UUID) -> str:
    return api_tokens.issue(db, user_id, name="t", scope="write").token


# Ingest keys


def ingest_status(settings: Settings, key: str, origin: str | None = None) -> int:
    service = build_ingest_service(settings)
    headers = {"origin": origin} if origin else None
    response = service.handle(
        HttpRequest.from_event(api_request({"name": "k"}, key=key, headers=headers))
    )
    return response.status


def test_members_read_keys_admins_manage_them(
    api: ApiCaller, tenant: Tenant, settings: Settings
) -> None:
    path = f"/api/projects/{tenant.project_id}/keys"
    listed = api("GET", path, token=tenant.members["viewer"].token)
    assert listed.status == 200
    assert tenant.public_key in [k["public_key"] for k in listed.body["data"]]
    for role in ("member", "viewer"):
        token = tenant.members[role].token
        assert api("POST", path, token=token, json={"label": "x"}).status == 403
        assert api("POST", f"{path}/{tenant.key_id}/revoke", token=token).status == 403
        assert api("POST", f"{path}/{tenant.key_id}/rotate", token=token).status == 403
        assert (
            api("PATCH", f"{path}/{tenant.key_id}", token=token, json={"label": "y"}).status == 403
        )

    admin = tenant.members["admin"].token
    created = api(
        "POST",
        path,
        token=admin,
        json={"label": "web", "allowed_origins": ["https://Shop.example.com/", "*"]},
    )
    assert created.status == 201, created.body
    key = created.body
    assert key["allowed_origins"] == ["https://shop.example.com", "*"] and key["active"]
    bad = api("POST", path, token=admin, json={"allowed_origins": ["shop.example.com/path"]})
    assert bad.status == 422 and bad.error["field"].startswith("body.allowed_origins")

    patched = api(
        "PATCH",
        f"{path}/{key['id']}",
        token=admin,
        json={"label": "shop", "allowed_origins": ["https://shop.example.com"]},
    )
    assert patched.status == 200
    assert (patched.body["label"], patched.body["allowed_origins"]) == (
        "shop",
        ["https://shop.example.com"],
    )
    assert ingest_status(settings, key["public_key"], "https://evil.example.com") == 403

    revoked = api("POST", f"{path}/{key['id']}/revoke", token=admin)
    assert revoked.status == 200 and not revoked.body["active"] and revoked.body["revoked_at"]
    assert api("POST", f"{path}/{key['id']}/revoke", token=admin).status == 200
    assert ingest_status(settings, key["public_key"]) == 401
    active = [k["id"] for k in api("GET", path, token=admin).body["data"]]
    assert key["id"] not in active
    everything = api("GET", path, token=admin, query="include_revoked=true").body["data"]
    assert key["id"] in [k["id"] for k in everything]
    assert api("PATCH", f"{path}/{key['id']}", token=admin, json={"label": "z"}).status == 409
    assert audit_actions(api, tenant, "action=key.*") == [
        "key.revoked",
        "key.updated",
        "key.created",
    ]


def test_rotation_replaces_the_key(api: ApiCaller, tenant: Tenant, settings: Settings) -> None:
    path = f"/api/projects/{tenant.project_id}/keys"
    admin = tenant.members["admin"].token
    old = api("GET", f"{path}/{tenant.key_id}", token=admin).body
    rotated = api("POST", f"{path}/{tenant.key_id}/rotate", token=admin)
    assert rotated.status == 201
    new = rotated.body
    assert new["id"] != old["id"] and new["public_key"] != old["public_key"]
    assert (new["label"], new["allowed_origins"]) == (old["label"], old["allowed_origins"])
    assert not api("GET", f"{path}/{tenant.key_id}", token=admin).body["active"]
    assert ingest_status(settings, old["public_key"]) == 401
    assert ingest_status(settings, new["public_key"]) == 202
    again = api("POST", f"{path}/{tenant.key_id}/rotate", token=admin)
    assert again.status == 409
    [entry] = api(
        "GET",
        f"/api/organizations/{tenant.organization_id}/audit",
        token=admin,
        query="action=key.rotated",
    ).body["data"]
    assert entry["details"]["replaced_by"] == new["id"]
    assert entry["target_id"] == str(tenant.key_id)
    assert entry["ip"] == "192.0.2.10"
    assert tenant.public_key not in orjson.dumps(entry).decode()


# Personal API tokens


def test_tokens_are_shown_once_and_revocable(api: ApiCaller, tenant: Tenant) -> None:
    me = tenant.members["viewer"].token
    created = api("POST", "/api/tokens", token=me, json={"name": "ci", "scope": "write"})
    assert created.status == 201, created.body
    secret = created.body["token"]
    assert secret.startswith("lst_") and created.body["prefix"] == secret[:10]
    assert api("GET", "/api/organizations", token=secret).status == 200
    listed = api("GET", "/api/tokens", token=me)
    assert secret not in orjson.dumps(listed.body).decode()
    names = {t["id"]: t for t in listed.body["data"]}
    assert names[created.body["id"]]["last_used_at"] is not None
    assert "token" not in names[created.body["id"]]

    others = api("GET", "/api/tokens", token=tenant.members["admin"].token).body["data"]
    assert created.body["id"] not in [t["id"] for t in others]
    token_path = f"/api/tokens/{created.body['id']}"
    assert api("DELETE", token_path, token=tenant.members["admin"].token).status == 404
    assert api("DELETE", token_path, token=me).status == 204
    assert api("GET", "/api/organizations", token=secret).status == 401
    assert api("DELETE", token_path, token=me).status == 404


def test_token_scopes_and_expiry(api: ApiCaller, tenant: Tenant, db: psycopg.Connection) -> None:
    me = tenant.members["member"].token
    reader = api("POST", "/api/tokens", token=me, json={"name": "read"}).body
    assert reader["scope"] == "read"
    denied = api("POST", "/api/tokens", token=reader["token"], json={"name": "escalate"})
    assert denied.status == 403 and denied.error["code"] == "insufficient_scope"
    assert api("DELETE", f"/api/tokens/{reader['id']}", token=reader["token"]).status == 403
    past = api(
        "POST", "/api/tokens", token=me, json={"name": "x", "expires_at": "2020-01-01T00:00:00Z"}
    )
    assert past.status == 422 and past.error["field"] == "body.expires_at"
    future = api(
        "POST", "/api/tokens", token=me, json={"name": "x", "expires_at": "2999-01-01T00:00:00"}
    ).body
    assert future["expires_at"].startswith("2999-01-01T00:00:00") and not future["expired"]
    db.execute(
        "UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = %s",
        (future["id"],),
    )
    assert api("GET", "/api/tokens", token=future["token"]).status == 401
    listed = {t["id"]: t for t in api("GET", "/api/tokens", token=me).body["data"]}
    assert listed[future["id"]]["expired"] is True


# Audit log


def test_audit_is_for_admins_and_filters(api: ApiCaller, tenant: Tenant) -> None:
    path = f"/api/organizations/{tenant.organization_id}/audit"
    for role in ("member", "viewer"):
        assert api("GET", path, token=tenant.members[role].token).status == 403
    admin = tenant.members["admin"]
    for label in ("a", "b", "c"):
        api(
            "POST",
            f"/api/projects/{tenant.project_id}/keys",
            token=admin.token,
            json={"label": label},
        )
    owner = tenant.members["owner"]
    api(
        "PATCH",
        f"/api/organizations/{tenant.organization_id}",
        token=owner.token,
        json={"name": "n"},
    )
    entries = collect(api, path, owner.token, "limit=2&action=key.created")
    assert [e["details"]["label"] for e in entries] == ["c", "b", "a"]
    assert {e["actor_email"] for e in entries} == {admin.email}
    by_owner = api("GET", path, token=owner.token, query=f"actor={owner.user_id}").body["data"]
    assert [e["action"] for e in by_owner] == ["organization.updated"]
    assert api("GET", path, token=owner.token, query="action=DROP TABLE").status == 422
    assert api("GET", path, token=owner.token, query="cursor=WzFd").status == 200
    assert api("GET", path, token=owner.token, query="cursor=WyJ4Il0").status == 400


# Dead letters


def test_dead_letters_for_admins(api: ApiCaller, tenant: Tenant, db: psycopg.Connection) -> None:
    path = f"/api/projects/{tenant.project_id}/dead-letters"
    for role in ("member", "viewer"):
        assert api("GET", path, token=tenant.members[role].token).status == 403
        assert (
            api("GET", f"{path}/{tenant.dead_letter_id}", token=tenant.members[role].token).status
            == 403
        )
    binary = b"\xff\xfe" + uuid.uuid4().bytes
    long_text = ("é" * 2000).encode()
    for raw in (binary, long_text):
        db.execute(
            "INSERT INTO dead_letters (digest, project_id, source, reason, raw)"
            " VALUES (%s, %s, 'logsight.events.0', 'test', %s)",
            (uuid.uuid4().bytes, tenant.project_id, raw),
        )
    # A letter nobody could attribute is shown to no organization.
    db.execute(
        "INSERT INTO dead_letters (digest, source, reason, raw) VALUES (%s, 'q', 'orphan', %s)",
        (uuid.uuid4().bytes, tenant.name.encode()),
    )
    admin = tenant.members["admin"].token
    letters = collect(api, path, admin, "limit=1")
    assert [letter["reason"] for letter in letters][:2] == ["test", "test"]
    assert len(letters) == 3
    text, blob, poison = letters
    assert blob["preview"] is None and blob["size"] == len(binary)
    assert text["preview"] == "é" * 512 and text["size"] == 4000
    assert poison["id"] == tenant.dead_letter_id and tenant.name in poison["preview"]
    assert "raw_base64" not in poison

    detail = api("GET", f"{path}/{blob['id']}", token=admin).body
    assert base64.b64decode(detail["raw_base64"]) == binary and detail["preview"] is None
    assert detail["raw_truncated"] is False
    full = api("GET", f"{path}/{text['id']}", token=admin).body
    assert base64.b64decode(full["raw_base64"]) == long_text
    assert api("GET", f"{path}/999999999999", token=admin).status == 404
    assert api("GET", f"{path}/0", token=admin).status == 422


def test_read_only_tokens_read_what_their_role_may_read(api: ApiCaller, tenant: Tenant) -> None:
    reader = tenant.reader.token  # the owner, read-only
    for path in (
        f"/api/organizations/{tenant.organization_id}/audit",
        f"/api/organizations/{tenant.organization_id}/invitations",
        f"/api/projects/{tenant.project_id}/dead-letters",
        f"/api/projects/{tenant.project_id}/dead-letters/{tenant.dead_letter_id}",
        f"/api/projects/{tenant.project_id}/keys",
        "/api/tokens",
    ):
        assert api("GET", path, token=reader).status == 200, path
    denied = api("POST", f"/api/projects/{tenant.project_id}/keys", token=reader, json={})
    assert denied.status == 403 and denied.error["code"] == "insufficient_scope"
