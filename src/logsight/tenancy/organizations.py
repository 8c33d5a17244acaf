"""Organizations: anyone signed in may create one and becomes its owner; owners rename or
delete it. Slugs are unique across the installation."""

from __future__ import annotations

import re
import secrets
from typing import Any
from uuid import UUID

from logsight.errors import ApiError
from logsight.storage import projects as store
from logsight.tenancy.access import Access, Role
from logsight.tenancy.audit import audited
from logsight.tenancy.memberships import add_owner


def _slug_from(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40].strip("-")
    return slug or "org"


def _taken(slug: str) -> ApiError:
    return ApiError(409, "conflict", f"the slug {slug!r} is taken", "slug")


def create(access: Access, name: str, slug: str | None, ip: str | None) -> UUID:
    """The new organization's id; a slug made from the name when none is given."""
    access.require_write()
    chosen = slug or _slug_from(name)
    with audited(access.conn, access.user_id, ip) as log:
        organization_id = store.insert_organization(access.conn, name, chosen)
        if organization_id is None and slug is None:
            # Slugs are unique across the install, so a made-up one gets a suffix rather than
            # failing because someone elsewhere picked the same name.
            chosen = f"{chosen}-{secrets.token_hex(3)}"
            organization_id = store.insert_organization(access.conn, name, chosen)
        if organization_id is None:
            raise _taken(chosen)
        add_owner(access.conn, organization_id, access.user_id)
        log.record(
            "organization.created",
            "organization",
            organization_id,
            {"name": name, "slug": chosen},
            organization_id=organization_id,
        )
    return organization_id


def update(access: Access, organization_id: UUID, changes: dict[str, Any], ip: str | None) -> None:
    """Set the ``name`` and ``slug`` that ``changes`` holds (owners)."""
    org = access.organization(organization_id, need=Role.OWNER)
    changed = {k: v for k, v in changes.items() if v != org.get(k)}
    if not changed:
        return
    conn = access.conn
    with audited(conn, access.user_id, ip, organization_id) as log:
        if "slug" in changed and store.organization_slug_taken(
            conn, changed["slug"], organization_id
        ):
            raise _taken(changed["slug"])
        store.update_organization(
            conn, organization_id, name=changed.get("name"), slug=changed.get("slug")
        )
        log.record(
            "organization.updated",
            "organization",
            organization_id,
            {k: {"from": org[k], "to": v} for k, v in changed.items()},
        )


def delete(access: Access, organization_id: UUID, ip: str | None) -> None:
    """Delete it with its projects, keys and members (owners)."""
    org = access.organization(organization_id, need=Role.OWNER)
    # The organization's own audit trail goes with it (ON DELETE CASCADE), so the deletion is
    # recorded outside it, against the actor.
    with audited(access.conn, access.user_id, ip) as log:
        store.delete_organization(access.conn, organization_id)
        log.record(
            "organization.deleted",
            "organization",
            organization_id,
            {"name": org["name"], "slug": org["slug"]},
        )
