"""Who is linked to a student, and removing a link (a parent or a teacher)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from services.user import domain
from services.user.domain import InviteKind
from services.user.models import ParentLink, TeacherLink, User
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import ParentUnlinked, TeacherUnlinked


@dataclass(frozen=True)
class Linked:
    id: uuid.UUID
    full_name: str
    linked_at: datetime


async def _teaches(uow: UnitOfWork, viewer: Principal, student_id: uuid.UUID) -> bool:
    return viewer.role == "teacher" and await uow.session.get(TeacherLink, (viewer.id, student_id)) is not None


async def links_of(uow: UnitOfWork, viewer: Principal, student_id: uuid.UUID) -> dict[str, list[Linked]]:
    """The student's teachers and parents: for the student, their teachers and admins."""
    async with uow:
        student = await uow.session.get(User, student_id)
        allowed = domain.can_see_links(viewer.id, viewer.role, student_id,
                                       teaches_student=await _teaches(uow, viewer, student_id))
        if student is None or student.role != "student" or not allowed:
            raise NotFound("No such student")
        teachers = await uow.session.execute(
            select(User.id, User.full_name, TeacherLink.created_at).join(TeacherLink, TeacherLink.teacher_id == User.id)
            .where(TeacherLink.student_id == student_id).order_by(TeacherLink.created_at))
        parents = await uow.session.execute(
            select(User.id, User.full_name, ParentLink.created_at).join(ParentLink, ParentLink.parent_id == User.id)
            .where(ParentLink.student_id == student_id).order_by(ParentLink.created_at))
        return {"teachers": [Linked(*row) for row in teachers], "parents": [Linked(*row) for row in parents]}


async def unlink(uow: UnitOfWork, viewer: Principal, student_id: uuid.UUID, kind: InviteKind,
                 other_id: uuid.UUID) -> None:
    """Remove a teacher (`kind` TEACHER) or parent link of the student; read models follow the event."""
    table, column = (TeacherLink, TeacherLink.teacher_id) if kind is InviteKind.TEACHER \
        else (ParentLink, ParentLink.parent_id)
    async with uow:
        allowed = domain.can_unlink(viewer.id, viewer.role, student_id, other_id,
                                    teaches_student=await _teaches(uow, viewer, student_id))
        if not allowed:
            raise NotFound("No such link")
        removed = await uow.session.execute(delete(table).where(column == other_id, table.student_id == student_id))
        if removed.rowcount != 1:
            raise NotFound("No such link")
        if kind is InviteKind.TEACHER:
            uow.emit(TeacherUnlinked(teacher_id=other_id, student_id=student_id))
        else:
            uow.emit(ParentUnlinked(parent_id=other_id, student_id=student_id))
        await uow.commit()
