"""The payment service's read model of people (`shared.people`), and who may see whose money."""
from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.payment.models import Account, KnownUser, ParentLink, TeacherLink
from shared.auth import Principal
from shared.errors import NotFound
from shared.people import People

DELETED_NAME = "Deleted user"   # a deleted account's ledger stays, under this name, for the teacher's books

people = People(KnownUser, TeacherLink, ParentLink, deleted_name=DELETED_NAME)


async def students_visible(session: AsyncSession, actor: Principal, column_student: ColumnElement,
                           column_teacher: ColumnElement) -> ColumnElement[bool]:
    """Which rows (by their student and teacher columns) the caller may see: their own accounts,
    a parent their children's, a teacher their students' with them, an admin all."""
    if actor.role == "admin":
        return true()
    if actor.role == "teacher":
        return column_teacher == actor.id
    if actor.role == "parent":
        return column_student.in_(await people.children_of(session, actor.id))
    return column_student == actor.id


async def ensure_may_see_student(session: AsyncSession, actor: Principal, student_id: uuid.UUID) -> None:
    """404 (not 403: nobody learns who exists) unless the caller may see this student's money."""
    allowed = (actor.role == "admin" or actor.id == student_id
               or (actor.role == "parent" and await people.is_parent_of(session, actor.id, student_id))
               or (actor.role == "teacher" and await _teacher_knows(session, actor.id, student_id)))
    if not allowed:
        raise NotFound("No such student")


async def _teacher_knows(session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> bool:
    """A linked student, or one the teacher keeps an account of (unlinked since: the books stay)."""
    if await people.is_teacher_of(session, teacher_id, student_id):
        return True
    found = await session.scalar(select(Account.id).where(Account.teacher_id == teacher_id,
                                                          Account.student_id == student_id).limit(1))
    return found is not None
