"""The read model of people, links and materials, learned from `user.*` and `material.*` events.

Writes are upserts, so an event about someone not seen yet is stored rather than refused.
`user.created` fills only what is still unknown while `user.updated` overwrites what it names,
so the result does not depend on which of the two arrives first.
"""
from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.student.models import (KnownUser, Material, ParentLink, StudentStateRow, StudiedMaterial,
                                     TeacherLink, UserTimezone)
from services.student.state import zone
from shared.auth import Principal
from shared.events import utcnow
from shared.sql import insert_for, one_of, upsert_fields

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"
SINCE_ALWAYS = datetime(1970, 1, 1, tzinfo=timezone.utc)  # the zone given at registration
FIELD_LENGTHS = {"role": 20, "full_name": 200, "locale": 10}
ZoneHistory = list[tuple[datetime, str]]  # (effective_from, zone), oldest first
ZONES = UserTimezone.__table__


def valid_zone(name: Any) -> str | None:
    try:
        return zone(str(name)).key if name else None
    except ValueError:
        return None


# --- users and their zones ---------------------------------------------------------------
async def record_user(session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any], *,
                      overwrite: bool) -> None:
    """Store what an event says about a user; `overwrite=False` keeps the fields already known."""
    values = {k: str(v)[:FIELD_LENGTHS[k]] for k, v in fields.items() if k in FIELD_LENGTHS and v is not None}
    await upsert_fields(session, KnownUser, {"id": user_id}, values, overwrite=overwrite)


async def record_timezone(session: AsyncSession, user_id: uuid.UUID, name: Any,
                          effective_from: datetime) -> None:
    """The user's zone from `effective_from` on; an unknown zone name is ignored (and logged)."""
    tz = valid_zone(name)
    if tz is None:
        log.warning("ignoring unknown time zone %r for user %s", name, user_id)
        return
    stmt = insert_for(session, UserTimezone).values(user_id=user_id, effective_from=effective_from, timezone=tz)
    await session.execute(stmt.on_conflict_do_update(
        index_elements=["user_id", "effective_from"], set_={"timezone": stmt.excluded.timezone}))


async def timezone_at(session: AsyncSession, user_id: uuid.UUID, moment: datetime) -> str:
    """The user's zone as it was at `moment`; the platform's zone for a user not known yet."""
    name = await session.scalar(
        select(UserTimezone.timezone)
        .where(UserTimezone.user_id == user_id, UserTimezone.effective_from <= moment)
        .order_by(UserTimezone.effective_from.desc()).limit(1))
    return name or DEFAULT_TIMEZONE


async def zone_histories(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, ZoneHistory]:
    """Each user's zones, oldest first, as (effective_from, zone)."""
    histories: dict[uuid.UUID, ZoneHistory] = {}
    connection = await session.connection()
    rows = await connection.execute(_zones_of(connection.dialect.name), {"ids": list(set(user_ids))})
    for row in rows:
        histories.setdefault(row.user_id, []).append((row.effective_from, row.timezone))
    return histories


@functools.cache
def _zones_of(dialect: str) -> Any:   # built once: a hot path (see shared.db)
    return (select(ZONES.c.user_id, ZONES.c.effective_from, ZONES.c.timezone)
            .where(one_of(ZONES.c.user_id, "ids", dialect)).order_by(ZONES.c.user_id, ZONES.c.effective_from))


def zone_at(history: ZoneHistory, moment: datetime) -> str:
    """The zone in effect at `moment` in a history from `zone_histories` (the platform's when none)."""
    name = DEFAULT_TIMEZONE
    for effective_from, zone_name in history:
        if effective_from > moment:
            break
        name = zone_name
    return name


async def user(session: AsyncSession, user_id: uuid.UUID) -> KnownUser | None:
    return await session.get(KnownUser, user_id)


async def names_of(session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    ids = set(user_ids)
    if not ids:
        return {}
    rows = await session.execute(select(KnownUser.id, KnownUser.full_name)
                                 .where(KnownUser.id.in_(ids), KnownUser.full_name.is_not(None)))
    return {row.id: row.full_name for row in rows}


# --- links -------------------------------------------------------------------------------
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


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account: its name and links go; progress stays under the bare id, pseudonymous,
    so that leaderboards and class statistics do not change behind the others' backs."""
    await session.execute(update(KnownUser).where(KnownUser.id == user_id).values(full_name=None))
    await session.execute(delete(TeacherLink).where(or_(TeacherLink.teacher_id == user_id,
                                                        TeacherLink.student_id == user_id)))
    await session.execute(delete(ParentLink).where(or_(ParentLink.parent_id == user_id,
                                                       ParentLink.student_id == user_id)))


async def link_parent(session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID) -> None:
    await session.execute(insert_for(session, ParentLink)
                          .values(parent_id=parent_id, student_id=student_id, linked_at=utcnow())
                          .on_conflict_do_nothing())


async def teachers_of(session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(TeacherLink.teacher_id).where(TeacherLink.student_id == student_id)
                                 .order_by(TeacherLink.linked_at, TeacherLink.teacher_id))
    return list(rows)


async def students_of(session: AsyncSession, teacher_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(TeacherLink.student_id).where(TeacherLink.teacher_id == teacher_id))
    return list(rows)


async def children_of(session: AsyncSession, parent_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(ParentLink.student_id).where(ParentLink.parent_id == parent_id))
    return list(rows)


async def may_see(session: AsyncSession, viewer: Principal, student_id: uuid.UUID) -> bool:
    """Self (a student), a linked teacher or parent, or an admin (for a student the service knows)."""
    if viewer.role == "student":
        return viewer.id == student_id
    if viewer.role == "teacher":
        return await session.get(TeacherLink, (viewer.id, student_id)) is not None
    if viewer.role == "parent":
        return await session.get(ParentLink, (viewer.id, student_id)) is not None
    known = await session.get(KnownUser, student_id)
    return (known is not None and known.role in (None, "student")) or \
        await session.get(StudentStateRow, student_id) is not None


# --- materials ---------------------------------------------------------------------------
async def record_material(session: AsyncSession, material_id: uuid.UUID, fields: dict[str, Any],
                          uploaded_at: datetime) -> None:
    values = {"teacher_id": fields["teacher_id"], "subject": str(fields["subject"])[:200],
              "title": (str(fields["title"])[:300] if fields.get("title") else None),
              "grade_level": fields.get("grade_level"), "visibility": fields["visibility"]}
    stmt = insert_for(session, Material).values(id=material_id, uploaded_at=uploaded_at, **values)
    await session.execute(stmt.on_conflict_do_update(index_elements=["id"], set_=values))


async def record_studied(session: AsyncSession, student_id: uuid.UUID, material_id: uuid.UUID,
                         studied_at: datetime) -> None:
    await session.execute(insert_for(session, StudiedMaterial)
                          .values(student_id=student_id, material_id=material_id, studied_at=studied_at)
                          .on_conflict_do_nothing())


async def unstudied_materials(session: AsyncSession, student_id: uuid.UUID, subjects: list[str],
                              limit: int) -> list[Material]:
    """Materials in these subjects the student may see (public, or shared with the students of a
    teacher of theirs) and has not marked studied, newest first."""
    if not subjects:
        return []
    teachers = select(TeacherLink.teacher_id).where(TeacherLink.student_id == student_id)
    studied = select(StudiedMaterial.material_id).where(StudiedMaterial.student_id == student_id)
    visible = (Material.visibility == "public") | (
        (Material.visibility == "students") & Material.teacher_id.in_(teachers))
    rows = await session.scalars(
        select(Material)
        .where(func.lower(Material.subject).in_([s.lower() for s in subjects]), visible,
               Material.id.not_in(studied))
        .order_by(Material.uploaded_at.desc()).limit(limit))
    return list(rows)
