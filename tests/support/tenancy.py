"""Whole tenants for API tests: an organization with a member of every role, a project holding
events (written by the real processor), an extra ingest key, a dead letter, a pending invitation
and a personal token, plus the strings that must never show up in another tenant's responses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson
import psycopg

from logsight.privacy.deletion import queue_deletion
from logsight.processing.batch import BatchProcessor
from logsight.processing.records import records_from_event
from logsight.storage import alerts
from logsight.storage.db import Database
from logsight.storage.keys import create_key
from logsight.storage.projects import create_project
from logsight.tenancy import api_tokens
from tests.support.api import Member, make_member, make_organization
from tests.support.processor import message, rmq_event

ROLES = ("owner", "admin", "member", "viewer")
QUEUE = "logsight.events.0"
DLQ = "logsight.events.dead"


@dataclass
class Tenant:
    name: str
    organization_id: UUID
    project_id: UUID
    members: dict[str, Member]
    # The owner again, through a read-only token.
    reader: Member
    key_id: UUID
    public_key: str
    invitation_id: UUID
    token_id: UUID
    dead_letter_id: int
    job_id: UUID
    event_ids: list[str]
    # The default dashboard every project gets.
    dashboard_id: UUID
    # Values nobody outside the tenant can know; any of them in a response is a leak.
    secrets: set[str] = field(default_factory=set)

    def ids(self) -> dict[str, Any]:
        """Path, query and body parameter names that identify this tenant's things."""
        return {
            "organization_id": self.organization_id,
            "project_id": self.project_id,
            "key_id": self.key_id,
            # Someone who is not the caller, so that "leave" is never what is tested.
            "user_id": self.members["member"].user_id,
            "invitation_id": self.invitation_id,
            "token_id": self.token_id,
            "dead_letter_id": self.dead_letter_id,
            "job_id": self.job_id,
            "event_id": self.event_ids[0],
            "dashboard_id": self.dashboard_id,
        }


def token_id(conn: psycopg.Connection, token: str) -> UUID:
    row = conn.execute(
        "SELECT id FROM api_tokens WHERE token_hash = %s", (api_tokens.digest(token),)
    ).fetchone()
    assert row is not None
    return UUID(str(row[0]))


def make_tenant(conn: psycopg.Connection, database_url: str, name: str | None = None) -> Tenant:
    tag = name or uuid.uuid4().hex[:8]
    slug = f"tenant-{tag}-{uuid.uuid4().hex[:6]}"
    org_id = make_organization(conn, slug)
    project = create_project(conn, f"project {slug}", organization_slug=slug)
    members = {role: make_member(conn, org_id, role) for role in ROLES}
    owner = members["owner"]
    read_token = api_tokens.issue(conn, owner.user_id, name="read-only", scope="read")
    reader = Member(owner.user_id, owner.email, read_token.token, "owner")
    extra_key = create_key(conn, project.id, label=f"label-{slug}", allowed_origins=[])
    key_row = conn.execute(
        "SELECT id FROM ingest_keys WHERE public_key = %s", (extra_key,)
    ).fetchone()
    assert key_row is not None
    invited = f"invitee-{slug}@example.com"
    invitation = conn.execute(
        "INSERT INTO invitations (organization_id, email, role, invited_by, expires_at)"
        " VALUES (%s, %s, 'member', %s, now() + interval '7 days') RETURNING id",
        (org_id, invited, owner.user_id),
    ).fetchone()
    assert invitation is not None

    event_name = f"event-{slug}"
    events = [
        {"name": event_name, "user": {"id": f"user-{slug}"}, "properties": {"secret": slug}},
        # An error, so that the project has an issue as well.
        {"type": "error", "error": {"type": "ValueError", "value": f"boom {slug}"}},
    ]
    poison = orjson.dumps({"project_id": str(project.id), "junk": f"poison-{slug}"})
    processor = BatchProcessor(Database(database_url), DLQ)
    outcome = processor.process(
        records_from_event(rmq_event(QUEUE, [message(project.id, *events), poison]))
    )
    assert outcome.inserted == 2 and len(outcome.dead_letters) == 1, outcome
    event_ids = [
        str(r[0])
        for r in conn.execute(
            "SELECT event_id FROM events WHERE project_id = %s ORDER BY event_id", (project.id,)
        ).fetchall()
    ]
    letter = conn.execute(
        "SELECT id FROM dead_letters WHERE project_id = %s", (project.id,)
    ).fetchone()
    assert letter is not None
    board = conn.execute(
        "SELECT id FROM dashboards WHERE project_id = %s", (project.id,)
    ).fetchone()
    assert board is not None
    alert_recipient = f"alerts-{slug}@example.com"
    channel_id = alerts.create_channel(
        conn,
        project.id,
        name=f"channel-{slug}",
        type="email",
        config={"to": [alert_recipient]},
        secret=None,
    )
    alerts.create_rule(
        conn,
        project.id,
        {
            "name": f"rule-{slug}",
            "kind": "new_issue",
            "condition": {"kind": "new_issue"},
            "window_seconds": 300,
            "interval_seconds": 60,
            "cooldown_seconds": 3600,
        },
        [channel_id],
        owner.user_id,
    )

    # A privacy job (deleting a user nobody has: it would delete nothing if it ran).
    job_id = queue_deletion(
        conn,
        organization_id=org_id,
        project_id=project.id,
        subject_kind="user_id",
        subject=f"nobody-{slug}",
        requested_by=None,  # as the CLI queues it: no actor in the audit log
    )

    tenant = Tenant(
        name=slug,
        organization_id=org_id,
        project_id=project.id,
        members=members,
        reader=reader,
        key_id=UUID(str(key_row[0])),
        public_key=extra_key,
        invitation_id=UUID(str(invitation[0])),
        token_id=token_id(conn, owner.token),
        dead_letter_id=int(letter[0]),
        job_id=job_id,
        event_ids=event_ids,
        dashboard_id=UUID(str(board[0])),
    )
    tenant.secrets = {
        slug,  # in the organization, project, event, key label and invitation
        str(org_id),
        str(project.id),
        project.public_key,
        extra_key,
        invited,
        alert_recipient,
        *(m.email for m in members.values()),
        *(str(m.user_id) for m in members.values()),
        *(m.token[:10] for m in members.values()),
        *event_ids,
        str(board[0]),
    }
    return tenant


def discover(conn: psycopg.Connection, tenant: Tenant, name: str) -> Any:
    """The tenant's row for a path parameter nobody taught this test about: ``issue_id`` is
    looked up as the ``id`` of a row of ``issues`` in the tenant's project or organization."""
    stem = name.removesuffix("_id")
    for table in (f"{stem}s", stem, f"{stem}es"):
        columns = {
            r[0]
            for r in conn.execute(
                "SELECT column_name FROM information_schema.columns"
                " WHERE table_schema = current_schema() AND table_name = %s",
                (table,),
            ).fetchall()
        }
        for owner, value in (
            ("project_id", tenant.project_id),
            ("organization_id", tenant.organization_id),
        ):
            if {"id", owner} <= columns:
                row = conn.execute(
                    f'SELECT id FROM "{table}" WHERE {owner} = %s LIMIT 1',
                    (value,),
                ).fetchone()
                if row is not None:
                    return row[0]
    return None
