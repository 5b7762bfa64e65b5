"""What the student service knows of people and materials: the shared read model of people
(`roster`, see `shared.people`), each user's zone history, and materials, learned from events."""
from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.student.models import (
    KnownUser,
    Material,
    ParentLink,
    StudentStateRow,
    StudiedMaterial,
    TeacherLink,
    UserTimezone,
)
from shared.auth import Principal
from shared.people import People, valid_zone
from shared.sql import insert_for, one_of

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Europe/Moscow"
SINCE_ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)  # the zone given at registration
ZoneHistory = list[tuple[datetime, str]]  # (effective_from, zone), oldest first
ZONES = UserTimezone.__table__
# A deleted user's name and links go; progress stays under the bare id, pseudonymous, so that
# leaderboards and class statistics do not change behind the others' backs (docs/security.md).
roster = People(KnownUser, TeacherLink, ParentLink, deleted_name=None)


# --- zones ---------------------------------------------------------------------------------
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


async def may_see(session: AsyncSession, viewer: Principal, student_id: uuid.UUID) -> bool:
    """Self (a student), a linked teacher or parent, or an admin (for a student the service knows)."""
    if viewer.role == "student":
        return viewer.id == student_id
    if viewer.role == "teacher":
        return await roster.is_teacher_of(session, viewer.id, student_id)
    if viewer.role == "parent":
        return await roster.is_parent_of(session, viewer.id, student_id)
    known = await roster.user(session, student_id)
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


async def forget_material(session: AsyncSession, material_id: uuid.UUID) -> None:
    await session.execute(delete(Material).where(Material.id == material_id))


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
