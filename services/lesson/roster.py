"""The service's read model of people: users and their teacher and parent links (`user.*` events).

Writes are upserts, so an event about a user not seen yet is stored rather than refused.
`user.created` only fills fields still unknown while `user.updated` overwrites the fields it
names, so the result does not depend on which of the two arrives first.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.lesson.domain import zone
from services.lesson.models import KnownUser, ParentLink, TeacherLink
from shared.events import utcnow
from shared.sql import insert_for, upsert_fields

DELETED_NAME = "Deleted user"
FIELD_LENGTHS = {"role": 20, "full_name": 200, "timezone": 64}  # what the read model keeps


async def record_user(session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any], *,
                      overwrite: bool) -> None:
    """Store what an event says about a user; `overwrite=False` keeps fields already known."""
    values = {k: str(v)[:FIELD_LENGTHS[k]] for k, v in fields.items() if k in FIELD_LENGTHS and v is not None}
    await upsert_fields(session, KnownUser, {"id": user_id}, values, overwrite=overwrite)


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account: its name leaves the read model and its links go; its lessons stay,
    shown under "Deleted user" (docs/security.md, "Account deletion")."""
    await session.execute(update(KnownUser).where(KnownUser.id == user_id).values(full_name=DELETED_NAME))
    await session.execute(delete(TeacherLink).where(or_(TeacherLink.teacher_id == user_id,
                                                        TeacherLink.student_id == user_id)))
    await session.execute(delete(ParentLink).where(or_(ParentLink.parent_id == user_id,
                                                       ParentLink.student_id == user_id)))


async def link_teacher(session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> None:
    await session.execute(insert_for(session, TeacherLink)
                          .values(teacher_id=teacher_id, student_id=student_id, linked_at=utcnow())
                          .on_conflict_do_nothing())


async def unlink_teacher(session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> None:
    await session.execute(delete(TeacherLink).where(TeacherLink.teacher_id == teacher_id,
                                                    TeacherLink.student_id == student_id))


async def unlink_parent(session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID) -> None:
    await session.execute(delete(ParentLink).where(ParentLink.parent_id == parent_id,
                                                   ParentLink.student_id == student_id))


async def link_parent(session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID) -> None:
    await session.execute(insert_for(session, ParentLink)
                          .values(parent_id=parent_id, student_id=student_id, linked_at=utcnow())
                          .on_conflict_do_nothing())


async def is_linked(session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> bool:
    return await session.get(TeacherLink, (teacher_id, student_id)) is not None


async def children_of(session: AsyncSession, parent_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(ParentLink.student_id).where(ParentLink.parent_id == parent_id))
    return list(rows)


async def timezone_of(session: AsyncSession, user_id: uuid.UUID) -> ZoneInfo:
    """The user's zone; the platform default for a user whose zone is not known yet."""
    name = await session.scalar(select(KnownUser.timezone).where(KnownUser.id == user_id))
    return zone(name)


async def names_of(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.execute(select(KnownUser.id, KnownUser.full_name)
                                 .where(KnownUser.id.in_(ids), KnownUser.full_name.is_not(None)))
    return {row.id: row.full_name for row in rows}
