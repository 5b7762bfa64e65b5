"""HTTP routes of who is linked to a student and of a teacher's invites: list, withdraw, unlink."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Response

from services.user import links, relations
from services.user.api import InviteCode, invite_public
from services.user.deps import SettingsDep
from services.user.domain import InviteKind
from services.user.schemas import InviteList, InviteUsePublic, InviteWithUses, LinkedPerson, StudentLinks, problems
from shared.app import UowDep
from shared.auth import CurrentUser, Principal, require_roles

router = APIRouter(prefix="/api/v1", tags=["links"])
LinkKind = Annotated[str, Path(pattern=r"^(teachers|parents)$", description="teachers or parents")]


@router.get("/users/{student_id}/links", response_model=StudentLinks, responses=problems(401, 404, 422))
async def student_links(student_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> StudentLinks:
    """The student's teachers and parents: for the student, their teachers and admins."""
    found = await relations.links_of(uow, user, student_id)
    return StudentLinks(**{side: [LinkedPerson(id=p.id, full_name=p.full_name, linked_at=p.linked_at) for p in people]
                           for side, people in found.items()})


@router.delete("/users/{student_id}/links/{kind}/{other_id}", status_code=204, response_class=Response,
               responses=problems(401, 404, 422))
async def remove_link(student_id: uuid.UUID, kind: LinkKind, other_id: uuid.UUID, user: CurrentUser,
                      uow: UowDep) -> Response:
    """Remove a teacher or parent of the student (`user.teacher_unlinked` / `user.parent_unlinked`):
    the student, the teacher or parent in question, a teacher of the student, or an admin."""
    link_kind = InviteKind.TEACHER if kind == "teachers" else InviteKind.PARENT
    await relations.unlink(uow, user, student_id, link_kind, other_id)
    return Response(status_code=204)


@router.get("/teachers/me/invites", response_model=InviteList, responses=problems(401, 403))
async def my_invites(user: Annotated[Principal, require_roles("teacher")], uow: UowDep,
                     settings: SettingsDep) -> InviteList:
    """The teacher's invites (the newest 200) with who accepted each and when."""
    found = await links.list_invites(uow, user)
    return InviteList(items=[InviteWithUses(
        **invite_public(invite, settings).model_dump(), revoked=invite.revoked_at is not None,
        uses=[InviteUsePublic(student_id=u.acceptor_id, used_at=u.used_at) for u in uses]) for invite, uses in found])


@router.delete("/teachers/me/invites/{code}", status_code=204, response_class=Response,
               responses=problems(401, 403, 404, 422))
async def withdraw_invite(code: InviteCode, user: Annotated[Principal, require_roles("teacher")],
                          uow: UowDep) -> Response:
    """Withdraw an invite or class code: nobody can accept it any more; existing links stay."""
    await links.revoke_invite(uow, user, code)
    return Response(status_code=204)
