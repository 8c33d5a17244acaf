"""The isolation matrix: tenants A and B, every role of A, every endpoint of the app.

Endpoints are read from the app's own OpenAPI document, so routes added later are covered the
moment they exist. Each tenant has an organization, a project with events (written by the real
processor), keys, a dead letter, an invitation and a member of every role.

1. Every endpoint that names a tenant's thing (path parameters, organization_id / project_id in
   the query or body), called by every role of A with B's ids: 404, never a hint of B.
2. Every list without ids, called by every role of A: nothing of B in it.
3. Within A: viewers and read-only tokens cannot write anywhere in the tenant.
4. The role table: what each endpoint needs, checked from both sides.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import orjson
import psycopg
import pytest

from logsight.api.app import create_app
from logsight.config import Settings
from tests.support.api import ApiCaller, Member, Reply
from tests.support.openapi import TENANT_FIELDS, Operation, RequestBuilder, operations
from tests.support.tenancy import ROLES, Tenant, discover, make_tenant

DOCUMENT = create_app(Settings()).openapi()
OPERATIONS = operations(DOCUMENT)
BUILD = RequestBuilder(DOCUMENT)


def names_tenant_things(op: Operation) -> bool:
    query = {p["name"] for p in op.params("query")}
    body = BUILD.resolve(op.body_schema or {}).get("properties", {})
    return bool(op.path_params) or any(f in query or f in body for f in TENANT_FIELDS)


def in_tenant(op: Operation) -> bool:
    """Acts on something inside an organization (rather than on the caller's own account)."""
    body = BUILD.resolve(op.body_schema or {}).get("properties", {})
    return any(f"{{{f}}}" in op.path or f in body for f in TENANT_FIELDS)


SCOPED = [op for op in OPERATIONS if names_tenant_things(op)]
UNSCOPED_READS = [op for op in OPERATIONS if not names_tenant_things(op) and not op.writes]
TENANT_WRITES = [op for op in OPERATIONS if op.writes and in_tenant(op)]


@dataclass
class World:
    a: Tenant
    b: Tenant
    ids_a: dict[str, Any] = field(default_factory=dict)
    ids_b: dict[str, Any] = field(default_factory=dict)


def ids_for(conn: psycopg.Connection, tenant: Tenant) -> dict[str, Any]:
    ids = tenant.ids()
    for name in {p for op in OPERATIONS for p in op.path_params} - ids.keys():
        found = discover(conn, tenant, name)
        if found is None:
            warnings.warn(
                f"no {name} of a tenant: isolation of its endpoints is tested with a random id;"
                " create one in tests/support/tenancy.py:make_tenant",
                stacklevel=1,
            )
            found = uuid4()
        ids[name] = found
    return ids


@pytest.fixture(scope="module")
def world(database_url: str) -> World:
    with psycopg.connect(database_url, autocommit=True) as conn:
        world = World(make_tenant(conn, database_url, "a"), make_tenant(conn, database_url, "b"))
        world.ids_a = ids_for(conn, world.a)
        world.ids_b = ids_for(conn, world.b)
    return world


@pytest.fixture(scope="module")
def api(database_url: str) -> Iterator[ApiCaller]:
    caller = ApiCaller(Settings(database_url=database_url, key_cache_seconds=0))
    yield caller
    caller.close()


def callers(tenant: Tenant) -> dict[str, Member]:
    return {**tenant.members, "read-only": tenant.reader}


def call(api: ApiCaller, op: Operation, token: str, ids: dict[str, Any], **body: Any) -> Reply:
    upload = BUILD.upload(op)
    if upload is not None:
        content, headers = upload
        path, query = BUILD.path(op, ids), BUILD.query(op, ids)
        return api(op.method, path, token=token, query=query, raw=content, headers=headers)
    json = BUILD.body(op, ids)
    if body and isinstance(json, dict):
        json.update(body)
    return api(op.method, BUILD.path(op, ids), token=token, query=BUILD.query(op, ids), json=json)


def leaks(reply: Reply, tenant: Tenant, sent: str) -> list[str]:
    """Values of the tenant in the reply that the caller did not send itself."""
    text = reply.body if isinstance(reply.body, str) else orjson.dumps(reply.body).decode()
    return sorted(s for s in tenant.secrets if s in text and s not in sent)


def describe(reply: Reply) -> str:
    return f"{reply.status} {reply.body!r:.300}"


# 1. B's ids are not found by anyone in A


@pytest.mark.parametrize("op", SCOPED, ids=lambda op: op.id)
def test_other_tenants_things_are_not_found(api: ApiCaller, world: World, op: Operation) -> None:
    b_named_in_path = bool(op.path_params)
    b_required = b_named_in_path or in_tenant(op)
    for role, member in callers(world.a).items():
        # A's own ids for what B's ids do not cover (none today), B's for the rest.
        ids = {**world.ids_a, **world.ids_b}
        reply = call(api, op, member.token, ids)
        sent = (
            BUILD.path(op, ids) + BUILD.query(op, ids) + orjson.dumps(BUILD.body(op, ids)).decode()
        )
        assert not leaks(reply, world.b, sent), (role, describe(reply))
        if b_required:
            scope_denied = (
                role == "read-only"
                and op.writes
                and reply.status == 403
                and reply.error["code"] == "insufficient_scope"
            )
            assert reply.status == 404 or scope_denied, (role, describe(reply))
        else:
            assert reply.status in {200, 404}, (role, describe(reply))


# 2. Lists without ids show nothing of B


@pytest.mark.parametrize("op", UNSCOPED_READS, ids=lambda op: op.id)
def test_lists_show_nothing_of_other_tenants(api: ApiCaller, world: World, op: Operation) -> None:
    for role, member in callers(world.a).items():
        reply = call(api, op, member.token, world.ids_a)
        assert reply.status < 500, (role, describe(reply))
        assert not leaks(reply, world.b, ""), (role, describe(reply))


# 3. Viewers and read-only tokens cannot write anywhere in their own tenant


@pytest.mark.parametrize("op", TENANT_WRITES, ids=lambda op: op.id)
def test_viewers_and_read_only_tokens_cannot_write(
    api: ApiCaller, world: World, op: Operation
) -> None:
    for who in (world.a.members["viewer"], world.a.reader):
        # user_id names the "member" user: never the caller, so this is not "leaving".
        reply = call(api, op, who.token, world.ids_a)
        assert reply.status == 403, (who.role, describe(reply))


# 4. The role table


@dataclass(frozen=True)
class Need:
    method: str
    path: str
    role: str
    body: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        extra = f" {self.body}" if self.body else ""
        return f"{self.method} {self.path}{extra} needs {self.role}"


ORG = "/api/organizations/{organization_id}"
PROJECT = "/api/projects/{project_id}"
KEY = f"{PROJECT}/keys/{{key_id}}"
DASHBOARD = f"{PROJECT}/dashboards/{{dashboard_id}}"
NEEDS = [
    Need("GET", ORG, "viewer"),
    Need("PATCH", ORG, "owner", {"name": "renamed"}),
    Need("DELETE", ORG, "owner"),
    Need("GET", f"{ORG}/members", "viewer"),
    Need("PATCH", f"{ORG}/members/{{user_id}}", "admin", {"role": "admin"}),
    Need("PATCH", f"{ORG}/members/{{user_id}}", "owner", {"role": "owner"}),
    Need("DELETE", f"{ORG}/members/{{user_id}}", "admin"),
    Need("GET", f"{ORG}/invitations", "admin"),
    Need("POST", f"{ORG}/invitations", "admin", {"role": "member"}),
    Need("POST", f"{ORG}/invitations", "owner", {"role": "owner"}),
    Need("DELETE", f"{ORG}/invitations/{{invitation_id}}", "admin"),
    Need("GET", f"{ORG}/audit", "admin"),
    Need("POST", "/api/projects", "admin"),
    Need("GET", PROJECT, "viewer"),
    Need("PATCH", PROJECT, "admin", {"name": "renamed"}),
    Need("DELETE", PROJECT, "admin"),
    Need("GET", f"{PROJECT}/keys", "viewer"),
    Need("POST", f"{PROJECT}/keys", "admin", {"label": "new"}),
    Need("GET", KEY, "viewer"),
    Need("PATCH", KEY, "admin", {"label": "renamed"}),
    Need("POST", f"{KEY}/revoke", "admin"),
    Need("POST", f"{KEY}/rotate", "admin"),
    Need("GET", f"{PROJECT}/dead-letters", "admin"),
    Need("GET", f"{PROJECT}/dead-letters/{{dead_letter_id}}", "admin"),
    Need("POST", f"{PROJECT}/dead-letters/{{dead_letter_id}}/replay", "admin"),
    Need("GET", f"{PROJECT}/dashboards", "viewer"),
    Need("POST", f"{PROJECT}/dashboards", "member", {"name": "new"}),
    Need("GET", f"{PROJECT}/dashboards/query", "viewer"),
    Need("GET", DASHBOARD, "viewer"),
    Need("PUT", DASHBOARD, "member", {"name": "renamed"}),
    Need("DELETE", DASHBOARD, "member"),
    Need("GET", f"{PROJECT}/ingest/health", "viewer"),
]
RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}
BY_ID = {op.id: op for op in OPERATIONS}
TABLE_TAGS = {
    "organizations",
    "members",
    "invitations",
    "projects",
    "keys",
    "audit",
    "dead letters",
    "dashboards",
    "ingest health",
}


def subject_for(ids: dict[str, Any], tenant: Tenant, caller: str) -> dict[str, Any]:
    # Acting on someone other than yourself: acting on yourself may be leaving.
    target = "viewer" if caller != "viewer" else "member"
    return {**ids, "user_id": tenant.members[target].user_id}


def test_the_role_table_covers_every_tenancy_endpoint() -> None:
    tabled = {f"{n.method} {n.path}" for n in NEEDS}
    missing = [
        op.id
        for op in OPERATIONS
        if in_tenant(op) and TABLE_TAGS & set(op.spec.get("tags", [])) and op.id not in tabled
    ]
    assert not missing
    assert not tabled - BY_ID.keys()


@pytest.mark.parametrize("need", NEEDS, ids=lambda n: n.id)
def test_roles_below_the_need_are_forbidden(api: ApiCaller, world: World, need: Need) -> None:
    op = BY_ID[f"{need.method} {need.path}"]
    for role in ROLES:
        if RANK[role] >= RANK[need.role]:
            continue
        ids = subject_for(world.ids_a, world.a, role)
        reply = call(api, op, world.a.members[role].token, ids, **(need.body or {}))
        assert reply.status == 403, (role, describe(reply))
        assert reply.error["code"] == "forbidden", (role, describe(reply))


@pytest.mark.parametrize("need", NEEDS, ids=lambda n: n.id)
def test_the_needed_role_is_enough(
    api: ApiCaller, database_url: str, db: psycopg.Connection, need: Need
) -> None:
    # A fresh tenant: allowed calls change things (delete the organization, revoke keys).
    tenant = make_tenant(db, database_url)
    op = BY_ID[f"{need.method} {need.path}"]
    ids = subject_for(tenant.ids(), tenant, need.role)
    reply = call(api, op, tenant.members[need.role].token, ids, **(need.body or {}))
    assert 200 <= reply.status < 300, describe(reply)


def test_tenants_are_what_the_matrix_assumes(world: World) -> None:
    assert world.a.organization_id != world.b.organization_id
    assert not world.a.secrets & world.b.secrets
    assert all(isinstance(v, UUID | int | str) for v in world.ids_b.values())
