"""Use cases of the lesson service: book, reschedule, start, complete, cancel, read.

Overlapping lessons are refused in two layers:

* inside the booking transaction the service reads both people's active lessons around the
  wanted times and reports every clashing occurrence (`domain.find_clashes`). On SQLite this
  alone is safe: the embedded mode is one process whose writers `BEGIN IMMEDIATE`, so no
  other booking can commit between the read and the write.
* on PostgreSQL two transactions can both pass that read. The exclusion constraints on
  `lessons` (see models.py) then let exactly one of them insert; the other fails with an
  exclusion violation, which becomes the same 409 by checking again in a fresh transaction.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from prometheus_client import Counter
from sqlalchemy import ColumnElement, Select, and_, or_, select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.lesson import events, roster
from services.lesson.domain import (
    ACTIVE_STATUSES,
    Booked,
    Clash,
    LessonStatus,
    Slot,
    booking_teacher,
    check_schedulable,
    ensure_may_cancel,
    ensure_may_run,
    ensure_visible,
    find_clashes,
    resolve_attendance,
    weekly_starts,
)
from services.lesson.models import Lesson
from services.lesson.schemas import LessonCancel, LessonComplete, LessonCreate, LessonUpdate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, Unprocessable
from shared.events import utcnow
from shared.pagination import Page, PageParams, make_page
from shared.people import Directory

LESSONS_SCHEDULED = Counter("repitbot_lessons_scheduled_total", "Lessons scheduled", ["lesson_type"])
LESSONS_RESCHEDULED = Counter("repitbot_lessons_rescheduled_total", "Lessons rescheduled", ["lesson_type"])
LESSONS_COMPLETED = Counter("repitbot_lessons_completed_total", "Lessons completed",
                            ["lesson_type", "attendance"])
LESSONS_CANCELLED = Counter("repitbot_lessons_cancelled_total", "Lessons cancelled",
                            ["lesson_type", "cancelled_by"])
LESSON_CONFLICTS = Counter("repitbot_lesson_conflicts_total",
                           "Bookings and reschedules refused because the time is taken", ["operation"])

EXCLUSION_VIOLATION = "23P01"  # PostgreSQL SQLSTATE


# --- booking ---------------------------------------------------------------------------
async def schedule_lessons(uow: UnitOfWork, actor: Principal, data: LessonCreate, *, directory: Directory,
                           now: datetime | None = None) -> list[Lesson]:
    """Book one lesson, or a weekly series: every occurrence, or none when any clashes. A link
    not known here yet is asked of the user service (`directory`)."""
    now = now or utcnow()
    teacher_id = booking_teacher(actor, data.teacher_id)
    try:
        async with uow:
            lessons = await _book(uow, directory, teacher_id, data, now)
            await uow.commit()
    except IntegrityError as exc:
        await _after_lost_race(uow, exc, teacher_id, data)
    for lesson in lessons:
        LESSONS_SCHEDULED.labels(lesson.lesson_type).inc()
    return lessons


async def _book(uow: UnitOfWork, directory: Directory, teacher_id: uuid.UUID, data: LessonCreate,
                now: datetime) -> list[Lesson]:
    check_schedulable(data.starts_at, data.duration_minutes, now)
    if not await roster.people.confirm_teacher(uow.session, directory, teacher_id, data.student_id):
        raise Unprocessable("The student is not linked to this teacher",
                            errors=[{"loc": ["body", "student_id"], "msg": "not linked to the teacher"}])
    slots = await _wanted_slots(uow.session, teacher_id, data)
    await _ensure_free(uow.session, slots, teacher_id, data.student_id, operation="create")
    series_id = uuid.uuid4() if data.recurrence else None
    lessons = [Lesson(
        id=uuid.uuid4(), teacher_id=teacher_id, student_id=data.student_id, subject=data.subject,
        title=data.title, lesson_type=data.lesson_type, starts_at=slot.starts_at, ends_at=slot.ends_at,
        duration_minutes=data.duration_minutes, notes=data.notes, series_id=series_id, sequence=0,
        price_amount=data.price.amount if data.price else None,
        currency=data.price.currency if data.price else None,
        status=LessonStatus.SCHEDULED, created_at=now, updated_at=now,
    ) for slot in slots]
    uow.session.add_all(lessons)
    await uow.session.flush()
    for lesson in lessons:
        uow.emit(events.scheduled(lesson))
    return lessons


async def _wanted_slots(session: AsyncSession, teacher_id: uuid.UUID, data: LessonCreate) -> list[Slot]:
    """The occurrences, expanded in the teacher's time zone so their wall-clock time stays put."""
    count = data.recurrence.weekly_count if data.recurrence else 1
    starts = weekly_starts(data.starts_at, count, await roster.timezone_of(session, teacher_id))
    return [Slot.of(start, data.duration_minutes) for start in starts]


async def _after_lost_race(uow: UnitOfWork, exc: IntegrityError, teacher_id: uuid.UUID,
                           data: LessonCreate) -> NoReturn:
    """A concurrent booking took the time (an exclusion violation) and committed first: the clash."""
    async with uow:
        if not _is_overlap(exc):
            raise exc
        slots = await _wanted_slots(uow.session, teacher_id, data)
        await _ensure_free(uow.session, slots, teacher_id, data.student_id, operation="create")
    LESSON_CONFLICTS.labels("create").inc()
    raise Conflict("Another booking took this time a moment ago")


def _is_overlap(exc: IntegrityError) -> bool:
    return getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION


async def _ensure_free(session: AsyncSession, slots: list[Slot], teacher_id: uuid.UUID,
                       student_id: uuid.UUID, *, operation: str, ignore: uuid.UUID | None = None) -> None:
    with session.no_autoflush:
        rows = await session.execute(
            select(Lesson.id, Lesson.teacher_id, Lesson.student_id, Lesson.status, Lesson.starts_at,
                   Lesson.ends_at)
            .where(or_(Lesson.teacher_id == teacher_id, Lesson.student_id == student_id),
                   Lesson.status.in_(ACTIVE_STATUSES),
                   Lesson.starts_at < slots[-1].ends_at, Lesson.ends_at > slots[0].starts_at))
    booked = [Booked(r.id, r.teacher_id, r.student_id, r.status, Slot(r.starts_at, r.ends_at)) for r in rows]
    clashes = find_clashes(slots, teacher_id=teacher_id, student_id=student_id, booked=booked, ignore=ignore)
    if clashes:
        LESSON_CONFLICTS.labels(operation).inc()
        raise _clash_error(clashes, len(slots))


def _clash_error(clashes: list[Clash], occurrences: int) -> Conflict:
    def describe(clash: Clash) -> str:
        when = clash.wanted.starts_at.isoformat()
        if clash.busy == "teacher":
            return f"{when}: overlaps the teacher's lesson {clash.lesson_id}"
        return f"{when}: the student already has a lesson at that time"

    loc = (lambda c: ["body", "recurrence", str(c.occurrence)]) if occurrences > 1 \
        else (lambda c: ["body", "starts_at"])
    errors = [{"loc": loc(c), "msg": describe(c)} for c in clashes]
    clashing = sorted({c.occurrence for c in clashes})
    detail = (f"{len(clashing)} of {occurrences} occurrences overlap existing lessons; none was booked"
              if occurrences > 1 else "The time overlaps an existing lesson: " + errors[0]["msg"])
    return Conflict(detail, errors=errors)


# --- changing one lesson ---------------------------------------------------------------
async def reschedule_lesson(uow: UnitOfWork, actor: Principal, lesson_id: uuid.UUID, data: LessonUpdate,
                            *, now: datetime | None = None) -> Lesson:
    """Move one scheduled lesson (one occurrence of a series leaves the others alone)."""
    now = now or utcnow()
    try:
        async with uow:
            lesson = await _lesson_to_run(uow.session, actor, lesson_id)
            old_starts_at = lesson.reschedule(starts_at=data.starts_at or lesson.starts_at,
                                              duration_minutes=data.duration_minutes or lesson.duration_minutes,
                                              now=now)
            await _ensure_free(uow.session, [Slot(lesson.starts_at, lesson.ends_at)], lesson.teacher_id,
                               lesson.student_id, operation="reschedule", ignore=lesson.id)
            uow.emit(events.rescheduled(lesson, old_starts_at))
            await uow.commit()
    except IntegrityError as exc:
        if not _is_overlap(exc):
            raise
        LESSON_CONFLICTS.labels("reschedule").inc()
        raise Conflict("Another booking took this time a moment ago") from exc
    LESSONS_RESCHEDULED.labels(lesson.lesson_type).inc()
    return lesson


async def start_lesson(uow: UnitOfWork, actor: Principal, lesson_id: uuid.UUID, *,
                       now: datetime | None = None) -> Lesson:
    async with uow:
        lesson = await _lesson_to_run(uow.session, actor, lesson_id)
        lesson.start(now=now or utcnow())
        uow.emit(events.started(lesson))
        await uow.commit()
    return lesson


async def complete_lesson(uow: UnitOfWork, actor: Principal, lesson_id: uuid.UUID, data: LessonComplete,
                          *, now: datetime | None = None) -> Lesson:
    """Record attendance and an optional score; the event carries what billing and XP need."""
    attendance = resolve_attendance(data.attendance, data.attended)
    async with uow:
        lesson = await _lesson_to_run(uow.session, actor, lesson_id)
        lesson.complete(attendance=attendance, score=data.score, notes=data.notes, now=now or utcnow())
        uow.emit(events.completed(lesson))
        await uow.commit()
    LESSONS_COMPLETED.labels(lesson.lesson_type, attendance).inc()
    return lesson


async def cancel_lesson(uow: UnitOfWork, actor: Principal, lesson_id: uuid.UUID, data: LessonCancel,
                        *, now: datetime | None = None) -> Lesson:
    async with uow:
        lesson = await _visible_lesson(uow.session, actor, lesson_id, for_update=True)
        ensure_may_cancel(actor, lesson)
        lesson.cancel(by=actor.id, role=actor.role, reason=data.reason, now=now or utcnow())
        uow.emit(events.cancelled(lesson))
        await uow.commit()
    LESSONS_CANCELLED.labels(lesson.lesson_type, actor.role).inc()
    return lesson


async def _lesson_to_run(session: AsyncSession, actor: Principal, lesson_id: uuid.UUID) -> Lesson:
    lesson = await _visible_lesson(session, actor, lesson_id, for_update=True)
    ensure_may_run(actor, lesson)
    return lesson


async def _visible_lesson(session: AsyncSession, actor: Principal, lesson_id: uuid.UUID, *,
                          for_update: bool = False) -> Lesson:
    lesson = await session.get(Lesson, lesson_id, with_for_update=for_update)
    children = await roster.people.children_of(session, actor.id) if actor.role == "parent" else ()
    ensure_visible(actor, lesson, children)
    assert lesson is not None
    return lesson


# --- reading ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LessonFilter:
    starts_from: datetime | None = None
    starts_before: datetime | None = None
    statuses: tuple[str, ...] = ()
    student_id: uuid.UUID | None = None


async def get_lesson(uow: UnitOfWork, actor: Principal, lesson_id: uuid.UUID) -> Lesson:
    async with uow.read_only():
        return await _visible_lesson(uow.session, actor, lesson_id)


async def list_lessons(uow: UnitOfWork, actor: Principal, where: LessonFilter, page: PageParams) -> Page[Lesson]:
    """The caller's lessons (a parent's: their children's), by start time, a page at a time."""
    stmt = _filtered(where, page)
    async with uow.read_only():
        stmt = stmt.where(await visible_to(uow.session, actor.id, actor.role))
        rows = list(await uow.session.scalars(stmt.order_by(Lesson.starts_at, Lesson.id).limit(page.limit + 1)))
    return make_page(rows, page.limit, lambda lesson: [lesson.starts_at.isoformat(), str(lesson.id)])


def _filtered(where: LessonFilter, page: PageParams) -> Select[tuple[Lesson]]:
    starts_from = _utc(where.starts_from, ["query", "from"])
    starts_before = _utc(where.starts_before, ["query", "to"])
    # `to` at or before `from` is an empty range, not an error: the query finds nothing
    stmt = select(Lesson)
    if starts_from:
        stmt = stmt.where(Lesson.starts_at >= starts_from)
    if starts_before:
        stmt = stmt.where(Lesson.starts_at < starts_before)
    if where.statuses:
        stmt = stmt.where(Lesson.status.in_(where.statuses))
    if where.student_id:
        stmt = stmt.where(Lesson.student_id == where.student_id)
    if (after := page.after(datetime, uuid.UUID)) is not None:
        starts_at, lesson_id = _utc(after[0], ["query", "cursor"]), after[1]
        stmt = stmt.where(or_(Lesson.starts_at > starts_at,
                              and_(Lesson.starts_at == starts_at, Lesson.id > lesson_id)))
    return stmt


def _utc(value: datetime | None, loc: list[str]) -> datetime | None:
    """`value` in UTC; 422 for a time that has no UTC equivalent (year 1 or 9999 with an offset)."""
    try:
        return value.astimezone(UTC) if value else None
    except OverflowError as exc:
        raise Unprocessable("Time out of range", errors=[{"loc": loc, "msg": "out of range"}]) from exc


async def visible_to(session: AsyncSession, user_id: uuid.UUID, role: str) -> ColumnElement[bool]:
    """Which lessons a user lists: their own; a parent their children's; an admin all."""
    if role == "admin":
        return true()
    if role == "teacher":
        return Lesson.teacher_id == user_id
    if role == "student":
        return Lesson.student_id == user_id
    return Lesson.student_id.in_(await roster.people.children_of(session, user_id))


async def lessons_since(session: AsyncSession, user_id: uuid.UUID, role: str, since: datetime,
                        limit: int) -> list[Lesson]:
    stmt = (select(Lesson).where(await visible_to(session, user_id, role), Lesson.ends_at >= since)
            .order_by(Lesson.starts_at).limit(limit))
    return list(await session.scalars(stmt))


__all__ = [
    "LessonFilter",
    "cancel_lesson",
    "complete_lesson",
    "get_lesson",
    "lessons_since",
    "list_lessons",
    "reschedule_lesson",
    "schedule_lessons",
    "start_lesson",
    "visible_to",
]
