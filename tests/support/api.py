"""Calling the API the way AWS does (API Gateway 2.0 event → Mangum → FastAPI), and making
users, organizations and tokens for tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
import psycopg
from mangum import Mangum

from logsight.api.app import create_app
from logsight.config import Settings
from logsight.local.context import LocalContext
from logsight.local.payloads import http_api_event
from logsight.tenancy import api_tokens


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: Any
    cookies: list[str] = field(default_factory=list)

    @property
    def error(self) -> dict[str, Any]:
        error: dict[str, Any] = self.body["error"]
        return error


class ApiCaller:
    def __init__(self, settings: Settings) -> None:
        self.app = create_app(settings)
        self.handler = Mangum(self.app, lifespan="off")

    def close(self) -> None:
        self.app.state.services.close()

    def __call__(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        json: Any = None,
        raw: bytes | None = None,
        query: str = "",
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """``json`` is sent encoded; ``raw`` as it is (JSON that orjson will not write)."""
        all_headers = dict(headers or {})
        body = raw or b""
        if json is not None:
            body = orjson.dumps(json)
        if body:
            all_headers.setdefault("content-type", "application/json")
        if token is not None:
            all_headers["authorization"] = f"Bearer {token}"
        event = http_api_event(
            method=method,
            path=path,
            query_string=query,
            headers=list(all_headers.items()),
            body=body,
            source_ip="192.0.2.10",
        )
        result = self.handler(event, LocalContext("logsight-api", 29))  # type: ignore[arg-type]
        raw = result.get("body") or ""
        parsed = (
            orjson.loads(raw)
            if raw and result["headers"].get("content-type", "").startswith("application/json")
            else raw
        )
        return Reply(
            result["statusCode"],
            {k.lower(): v for k, v in result["headers"].items()},
            parsed,
            result.get("cookies") or [],
        )


@dataclass(frozen=True)
class Member:
    user_id: UUID
    email: str
    token: str
    role: str


def make_organization(conn: psycopg.Connection, name: str | None = None) -> UUID:
    slug = name or f"org-{uuid.uuid4().hex[:8]}"
    row = conn.execute(
        "INSERT INTO organizations (name, slug) VALUES (%s, %s) RETURNING id", (slug, slug)
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def make_user(conn: psycopg.Connection, email: str | None = None) -> UUID:
    row = conn.execute(
        "INSERT INTO users (email) VALUES (%s) RETURNING id",
        (email or f"user-{uuid.uuid4().hex[:8]}@example.com",),
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def make_member(
    conn: psycopg.Connection, organization_id: UUID, role: str, *, scope: str = "write"
) -> Member:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.com"
    user_id = make_user(conn, email)
    conn.execute(
        "INSERT INTO memberships (organization_id, user_id, role) VALUES (%s, %s, %s)",
        (organization_id, user_id, role),
    )
    token = api_tokens.issue(conn, user_id, name="test", scope=scope)  # type: ignore[arg-type]
    return Member(user_id, email, token.token, role)


TEAM_ROLES = ("owner", "admin", "member", "viewer")


def make_team(api: ApiCaller, conn: psycopg.Connection, project: str = "shop") -> dict[str, Any]:
    """An organization with a member of every role and a project its owner created through the
    API: ``{"org": id, "project": the created project, "owner": Member, ...}``."""
    org_id = make_organization(conn)
    members = {role: make_member(conn, org_id, role) for role in TEAM_ROLES}
    created = api(
        "POST",
        "/api/projects",
        token=members["owner"].token,
        json={"organization_id": str(org_id), "name": project},
    )
    assert created.status == 201, created.body
    return {"org": org_id, "project": created.body, **members}
