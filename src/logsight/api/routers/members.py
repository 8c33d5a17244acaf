"""Members of an organization and invitations to join one.

Every member may see who else belongs; admins invite, change roles and remove people; only
owners grant or revoke the owner role, and the last owner can neither be demoted nor removed.
Anyone may leave. Invitations are accepted by the signed-in user whose email they name.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Response, status
from pydantic import BaseModel

from logsight.api.deps import ClientIp, CurrentAccess
from logsight.api.errors import ERROR_RESPONSES
from logsight.api.fields import Email
from logsight.api.pagination import DEFAULT_LIMIT, TIME_ID, Limit, Page, decode_cursor, page
from logsight.api.routers.organizations import OrganizationPublic
from logsight.errors import ApiError
from logsight.query import memberships as membership_queries
from logsight.tenancy import memberships
from logsight.tenancy.access import Access, Role

router = APIRouter(responses=ERROR_RESPONSES)


class MemberUpdate(BaseModel):
    role: Role


class MemberPublic(BaseModel):
    user_id: UUID
    email: str
    name: str
    role: Role
    joined_at: datetime


class InvitationCreate(BaseModel):
    email: Email
    role: Role = Role.MEMBER


class InvitationPublic(BaseModel):
    id: UUID
    organization_id: UUID
    email: str
    role: Role
    invited_by: UUID | None
    created_at: datetime
    expires_at: datetime


class InvitationForMe(BaseModel):
    id: UUID
    organization_id: UUID
    organization_name: str
    role: Role
    invited_by_email: str | None
    created_at: datetime
    expires_at: datetime


@router.get(
    "/organizations/{organization_id}/members",
    response_model=Page[MemberPublic],
    tags=["members"],
    summary="Members of an organization",
)
def list_members(
    organization_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[MemberPublic]:
    access.organization(organization_id)
    rows, following = membership_queries.members(
        access.conn, organization_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([MemberPublic(**r) for r in rows], following)


@router.patch(
    "/organizations/{organization_id}/members/{user_id}",
    response_model=MemberPublic,
    tags=["members"],
    summary="Change a member's role (admins; owners for the owner role)",
)
def update_member(
    organization_id: UUID,
    user_id: UUID,
    body: MemberUpdate,
    access: CurrentAccess,
    ip: ClientIp,
) -> MemberPublic:
    memberships.change_role(access, organization_id, user_id, body.role, ip)
    return MemberPublic(**memberships.member(access.conn, organization_id, user_id))


@router.delete(
    "/organizations/{organization_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["members"],
    summary="Remove a member (admins), or leave (yourself)",
)
def remove_member(
    organization_id: UUID, user_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    memberships.remove(access, organization_id, user_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/organizations/{organization_id}/invitations",
    response_model=InvitationPublic,
    status_code=status.HTTP_201_CREATED,
    tags=["invitations"],
    summary="Invite someone by email (admins; valid for 7 days; inviting again renews)",
)
def create_invitation(
    organization_id: UUID, body: InvitationCreate, access: CurrentAccess, ip: ClientIp
) -> InvitationPublic:
    invitation_id = memberships.invite(access, organization_id, body.email, body.role, ip)
    return _invitation(access, organization_id, invitation_id)


def _invitation(access: Access, organization_id: UUID, invitation_id: UUID) -> InvitationPublic:
    row = membership_queries.invitation(access.conn, organization_id, invitation_id)
    if row is None:
        raise ApiError(404, "not_found", "invitation not found", "invitation_id")
    return InvitationPublic(**row)


@router.get(
    "/organizations/{organization_id}/invitations",
    response_model=Page[InvitationPublic],
    tags=["invitations"],
    summary="Pending invitations of an organization (admins)",
)
def list_invitations(
    organization_id: UUID,
    access: CurrentAccess,
    limit: Limit = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[InvitationPublic]:
    access.organization(organization_id, need=Role.ADMIN, reading=True)
    rows, following = membership_queries.invitations(
        access.conn, organization_id, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([InvitationPublic(**r) for r in rows], following)


@router.delete(
    "/organizations/{organization_id}/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["invitations"],
    summary="Withdraw a pending invitation (admins)",
)
def revoke_invitation(
    organization_id: UUID, invitation_id: UUID, access: CurrentAccess, ip: ClientIp
) -> Response:
    memberships.revoke_invitation(access, organization_id, invitation_id, ip)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/invitations",
    response_model=Page[InvitationForMe],
    tags=["invitations"],
    summary="Pending invitations addressed to you",
)
def my_invitations(
    access: CurrentAccess, limit: Limit = DEFAULT_LIMIT, cursor: str | None = None
) -> Page[InvitationForMe]:
    rows, following = membership_queries.invitations_to(
        access.conn, access.principal.email, limit=limit, after=decode_cursor(cursor, TIME_ID)
    )
    return page([InvitationForMe(**r) for r in rows], following)


@router.post(
    "/invitations/{invitation_id}/accept",
    response_model=OrganizationPublic,
    tags=["invitations"],
    summary="Accept an invitation addressed to you: join its organization",
)
def accept_invitation(
    invitation_id: UUID, access: CurrentAccess, ip: ClientIp
) -> OrganizationPublic:
    organization_id = memberships.accept(access, invitation_id, ip)
    return OrganizationPublic(**access.organization(organization_id))
