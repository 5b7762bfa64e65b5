"""Who sees which material, from the service's read model of people (`shared.people`): the
same rule as `domain.may_see`, once as a check of one material and once as a SQL condition
for lists."""
from __future__ import annotations

import uuid

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.material.domain import Viewer, Visibility, ensure_visible, may_see
from services.material.models import KnownUser, Material, MaterialShare, ParentLink, TeacherLink
from shared.auth import Principal
from shared.people import Directory, People

people = People(KnownUser, TeacherLink, ParentLink, erase_deleted=True)


async def viewer_of(session: AsyncSession, principal: Principal) -> Viewer:
    """The caller with the students they see through (themself, or a parent's children) and
    those students' teachers."""
    if principal.role == "student":
        students = [principal.id]
    elif principal.role == "parent":
        students = await people.children_of(session, principal.id)
    else:
        students = []
    teachers: set[uuid.UUID] = set()
    for student in students:
        teachers.update(await people.teachers_of(session, student))
    return Viewer(principal.id, principal.role, frozenset(students), frozenset(teachers))


async def shared_with(session: AsyncSession, material_id: uuid.UUID) -> list[uuid.UUID]:
    return list(await session.scalars(select(MaterialShare.student_id)
                                      .where(MaterialShare.material_id == material_id)
                                      .order_by(MaterialShare.shared_at, MaterialShare.student_id)))


async def check_visible(session: AsyncSession, viewer: Viewer, material: Material | None, *,
                        directory: Directory) -> None:
    """404 unless the viewer may see the material. A student of the owner whose link has not
    reached this service yet is confirmed by the user service (and the link stored)."""
    if material is None:
        ensure_visible(viewer, None)
        return
    shares = await shared_with(session, material.id)
    if may_see(viewer, material, shares):
        return
    if viewer.role == "student" and material.visibility == Visibility.STUDENTS and \
            await people.confirm_teacher(session, directory, material.owner_id, viewer.id):
        return
    ensure_visible(viewer, None)


def visible_condition(viewer: Viewer) -> ColumnElement[bool]:
    """The SQL form of `may_see`, for lists."""
    shared = (select(MaterialShare.material_id).where(MaterialShare.student_id.in_(viewer.students))
              if viewer.students else None)
    return or_(
        Material.owner_id == viewer.id,
        Material.visibility == Visibility.PUBLIC,
        and_(Material.visibility == Visibility.STUDENTS, Material.owner_id.in_(viewer.teachers))
        if viewer.teachers else false(),
        Material.id.in_(shared) if shared is not None else false(),
    )


async def unlinked_among(session: AsyncSession, directory: Directory, teacher_id: uuid.UUID,
                          student_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Those of `student_ids` who are not linked to the teacher (asking the user service on a miss)."""
    return [s for s in student_ids if not await people.confirm_teacher(session, directory, teacher_id, s)]
