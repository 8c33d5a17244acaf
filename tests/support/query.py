"""Shared pieces for the query API tests: a tenant with a project, and events written through
the real processor path (queue message → BatchProcessor → events and rollups)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from logsight.config import Settings
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.queue.topology import ensure_topology
from logsight.storage.db import Database
from logsight.storage.projects import create_project
from tests.conftest import create_vhost, delete_vhost
from tests.support.api import ApiCaller, Member, make_member, make_organization
from tests.support.processor import message, rmq_event

QUEUE = "logsight.events.0"
DLQ = "logsight.events.dead"


@dataclass(frozen=True)
class Tenant:
    organization_id: UUID
    project_id: UUID
    viewer: Member

    def path(self, suffix: str = "") -> str:
        return f"/api/projects/{self.project_id}{suffix}"


ROLES = ("owner", "admin", "member", "viewer")


@dataclass(frozen=True)
class Org:
    """A project in an organization with a member of every role."""

    organization_id: UUID
    project_id: UUID
    members: dict[str, Member]

    def path(self, suffix: str = "") -> str:
        return f"/api/projects/{self.project_id}{suffix}"


def make_org(conn: psycopg.Connection) -> Org:
    tenant = make_tenant(conn)
    members = {role: make_member(conn, tenant.organization_id, role) for role in ROLES}
    return Org(tenant.organization_id, tenant.project_id, members)


def make_tenant(conn: psycopg.Connection) -> Tenant:
    org_id = make_organization(conn)
    slug = conn.execute("SELECT slug FROM organizations WHERE id = %s", (org_id,)).fetchone()
    assert slug is not None
    project = create_project(conn, f"p-{uuid.uuid4().hex[:8]}", organization_slug=slug[0])
    return Tenant(org_id, project.id, make_member(conn, org_id, "viewer"))


@pytest.fixture
def api(settings: Settings) -> Iterator[ApiCaller]:
    caller = ApiCaller(settings)
    yield caller
    caller.close()


@pytest.fixture
def tenant(db: psycopg.Connection) -> Tenant:
    return make_tenant(db)


def api_with(database_url: str, amqp_url: str) -> ApiCaller:
    """The API with a broker of the test's choosing (short timeouts: some are unreachable)."""
    return ApiCaller(
        Settings(
            database_url=database_url,
            amqp_url=amqp_url,
            key_cache_seconds=0,
            connect_timeout_seconds=1,
            publish_timeout_seconds=3,
        )
    )


@pytest.fixture(scope="module")
def queues() -> Iterator[str]:
    """A vhost of the module's own with LogSight's queues, nobody consuming them."""
    url = create_vhost("logsight-queues")
    ensure_topology(Settings(amqp_url=url))
    yield url
    delete_vhost(url)


@pytest.fixture
def org(db: psycopg.Connection) -> Org:
    return make_org(db)


@pytest.fixture
def other(db: psycopg.Connection) -> Org:
    """Another organization."""
    return make_org(db)


@pytest.fixture
def stranger(db: psycopg.Connection) -> Member:
    """A member of another organization."""
    return make_member(db, make_organization(db), "owner")


@pytest.fixture
def processor(database_url: str) -> Iterator[BatchProcessor]:
    database = Database(database_url)
    yield BatchProcessor(database, DLQ)
    database.reset()


def at(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def ingest(
    processor: BatchProcessor,
    project_id: UUID,
    events: list[dict[str, Any]],
    *,
    received_at: datetime | None = None,
) -> int:
    """Write events as one queue message; received_at defaults to just after the latest one
    (ingest clamps timestamps to [received - 30 d, received + 60 s])."""
    if received_at is None:
        latest = max(at(e["timestamp"]) for e in events)
        received_at = latest + timedelta(seconds=1)
    body = message(project_id, *events, received_at=received_at)
    outcome = processor.process(records_from_event(rmq_event(QUEUE, [body])))
    assert outcome.dead_letters == []
    return outcome.inserted


def event(when: datetime | str, name: str = "signup", **fields: Any) -> dict[str, Any]:
    stamp = when if isinstance(when, str) else when.isoformat()
    return {"name": name, "timestamp": stamp, **fields}
