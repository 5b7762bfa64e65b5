"""The internal route other services ask about a link when their read model has not seen it yet
(`shared.people.Directory`). Not routed by the gateway: only processes inside the platform reach it."""
from __future__ import annotations

import uuid

from fastapi import APIRouter

from services.user.models import ParentLink, TeacherLink
from shared.app import UowDep
from shared.people import LINK_PATH, LinkAnswer, LinkKind

router = APIRouter(tags=["internal"])
TABLES = {"teacher": TeacherLink, "parent": ParentLink}


@router.get(LINK_PATH, summary="Is this teacher (or parent) linked to this student (internal)")
async def link(kind: LinkKind, other_id: uuid.UUID, student_id: uuid.UUID, uow: UowDep) -> LinkAnswer:
    async with uow.read_only():
        row = await uow.session.get(TABLES[kind], (other_id, student_id))
        return LinkAnswer(linked=row is not None, linked_at=row.created_at if row else None)
