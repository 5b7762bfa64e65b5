"""Use cases of the homework service: assign, change, grade, read. Submissions and files are
in `submissions.py`.

A grade and a submission of one homework never interleave: each takes the homework's row
lock (`SELECT ... FOR UPDATE` on PostgreSQL; on SQLite every writer is `BEGIN IMMEDIATE`)
and decides on what it finds there. A grade names the submission the teacher read (or takes
the latest): a resubmission that came first makes the grade a 409, a grade that came first
makes the resubmission a 409.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter
from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from services.homework import events, roster
from services.homework.domain import (
    HomeworkStatus,
    assigning_teacher,
    check_due,
    check_max_score,
    check_score,
    ensure_gradable,
    ensure_teacher,
    ensure_visible,
)
from services.homework.models import Grade, Homework, HomeworkFile, Submission
from services.homework.schemas import GradeCreate, HomeworkCreate, HomeworkUpdate
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidTransition, Unprocessable
from shared.events import utcnow
from shared.pagination import Page, PageParams, make_page
from shared.people import Directory

HOMEWORK_ASSIGNED = Counter("repitbot_homework_assigned_total", "Homework assigned (one per student)")
HOMEWORK_GRADED = Counter("repitbot_homework_graded_total", "Homework grades given", ["kind"])  # first|regrade
HOMEWORK_CONFLICTS = Counter("repitbot_homework_conflicts_total",
                             "Grades and submissions refused by the homework's state", ["operation"])


# --- assigning and changing ------------------------------------------------------------------
async def assign_homework(uow: UnitOfWork, actor: Principal, data: HomeworkCreate, *, directory: Directory,
                          now: datetime | None = None) -> list[Homework]:
    """One homework per student; all or none: any student not linked to the teacher is a 422
    naming that student."""
    now = now or utcnow()
    teacher_id = assigning_teacher(actor, data.teacher_id)
    check_due(data.due_at, now)
    students = data.students
    async with uow:
        await _ensure_linked(uow.session, directory, teacher_id, students, several=data.student_ids is not None)
        batch_id = uuid.uuid4() if data.student_ids is not None else None
        homework = [Homework(
            id=uuid.uuid4(), teacher_id=teacher_id, student_id=student_id, lesson_id=data.lesson_id,
            batch_id=batch_id, title=data.title, description=data.description, due_at=data.due_at,
            max_score=data.max_score, status=HomeworkStatus.ASSIGNED, created_at=now, updated_at=now,
        ) for student_id in students]
        uow.session.add_all(homework)
        await uow.session.flush()
        uow.emit_many([events.assigned(h) for h in homework])
        await uow.commit()
    HOMEWORK_ASSIGNED.inc(len(homework))
    return homework


async def _ensure_linked(session: AsyncSession, directory: Directory, teacher_id: uuid.UUID,
                         students: list[uuid.UUID], *, several: bool) -> None:
    errors = []
    for index, student_id in enumerate(students):
        if not await roster.people.confirm_teacher(session, directory, teacher_id, student_id):
            loc = ["body", "student_ids", str(index)] if several else ["body", "student_id"]
            errors.append({"loc": loc, "msg": "not linked to the teacher"})
    if errors:
        raise Unprocessable("A student is not linked to this teacher", errors=errors)


async def update_homework(uow: UnitOfWork, actor: Principal, homework_id: uuid.UUID, data: HomeworkUpdate,
                          *, now: datetime | None = None) -> Homework:
    """Change what the teacher wrote; a new due time moves the student's reminder."""
    now = now or utcnow()
    changes = data.model_dump(exclude_unset=True)
    async with uow:
        homework = await visible_homework(uow.session, actor, homework_id, for_update=True)
        ensure_teacher(actor, homework)
        if "due_at" in changes and changes["due_at"] != homework.due_at:
            check_due(data.due_at, now)
        if "max_score" in changes:
            check_max_score(data.max_score, homework.score)
        for name, value in changes.items():
            setattr(homework, name, value)
        homework.updated_at = now
        uow.emit(events.updated(homework))
        await uow.commit()
    return homework


# --- grading ---------------------------------------------------------------------------------
async def grade_homework(uow: UnitOfWork, actor: Principal, homework_id: uuid.UUID, data: GradeCreate,
                         *, now: datetime | None = None) -> Homework:
    """Grade the latest submission; grading again is a re-grade, kept in the history and told
    again (`homework.graded` with the new score)."""
    now = now or utcnow()
    async with uow:
        homework = await visible_homework(uow.session, actor, homework_id, for_update=True)
        ensure_teacher(actor, homework)
        latest = await latest_submission_id(uow.session, homework.id)
        try:
            submission_id = ensure_gradable(homework, latest, data.submission_id)
        except InvalidTransition:
            HOMEWORK_CONFLICTS.labels("grade").inc()
            raise
        check_score(data.score, homework.max_score)
        regrade = homework.status == HomeworkStatus.GRADED
        uow.session.add(Grade(id=uuid.uuid4(), homework_id=homework.id, submission_id=submission_id,
                              score=data.score, max_score=homework.max_score, feedback=data.feedback,
                              graded_by=actor.id, graded_at=now))
        homework.status, homework.score, homework.feedback = HomeworkStatus.GRADED, data.score, data.feedback
        homework.graded_at = homework.updated_at = now
        uow.emit(events.graded(homework, regrade=regrade))
        await uow.commit()
    HOMEWORK_GRADED.labels("regrade" if regrade else "first").inc()
    return homework


async def latest_submission_id(session: AsyncSession, homework_id: uuid.UUID) -> uuid.UUID | None:
    return await session.scalar(select(Submission.id).where(Submission.homework_id == homework_id)
                                .order_by(Submission.number.desc()).limit(1))


# --- reading ---------------------------------------------------------------------------------
@dataclass
class HomeworkRecord:
    """A homework with its whole history, for the one who may see it."""

    homework: Homework
    attachments: list[HomeworkFile] = field(default_factory=list)
    submissions: list[Submission] = field(default_factory=list)
    files: dict[uuid.UUID, list[HomeworkFile]] = field(default_factory=dict)   # by submission
    grades: list[Grade] = field(default_factory=list)


async def get_homework(uow: UnitOfWork, actor: Principal, homework_id: uuid.UUID) -> HomeworkRecord:
    async with uow.read_only():
        homework = await visible_homework(uow.session, actor, homework_id)
        return await _record(uow.session, homework)


async def _record(session: AsyncSession, homework: Homework) -> HomeworkRecord:
    record = HomeworkRecord(homework)
    record.submissions = list(await session.scalars(
        select(Submission).where(Submission.homework_id == homework.id).order_by(Submission.number)))
    record.grades = list(await session.scalars(
        select(Grade).where(Grade.homework_id == homework.id).order_by(Grade.graded_at, Grade.id)))
    for file in await session.scalars(select(HomeworkFile).where(HomeworkFile.homework_id == homework.id)
                                      .order_by(HomeworkFile.created_at, HomeworkFile.position)):
        if file.submission_id is None:
            record.attachments.append(file)
        else:
            record.files.setdefault(file.submission_id, []).append(file)
    return record


async def visible_homework(session: AsyncSession, actor: Principal, homework_id: uuid.UUID, *,
                           for_update: bool = False) -> Homework:
    """The homework, when the actor may see it (404 otherwise: its existence is not told)."""
    homework = await session.get(Homework, homework_id, with_for_update=for_update, populate_existing=for_update)
    children = await roster.people.children_of(session, actor.id) if actor.role == "parent" else ()
    ensure_visible(actor, homework, children)
    assert homework is not None
    return homework


@dataclass(frozen=True)
class HomeworkFilter:
    status: HomeworkStatus | None = None
    student_id: uuid.UUID | None = None
    due_before: datetime | None = None
    order: str = "newest"   # newest (created, latest first) | due (soonest due first)


async def list_homework(uow: UnitOfWork, actor: Principal, where: HomeworkFilter, page: PageParams,
                        *, now: datetime | None = None) -> Page[Homework]:
    """The caller's homework (a parent's: their children's), a page at a time."""
    now = now or utcnow()
    by_due = where.order == "due"
    stmt = select(Homework).where(*_conditions(where, now))
    if (after := page.after(datetime, uuid.UUID)) is not None:
        stmt = stmt.where(_after(by_due, _utc(after[0], ["query", "cursor"]), after[1]))
    order = (Homework.due_at, Homework.id) if by_due else (Homework.created_at.desc(), Homework.id.desc())
    async with uow.read_only():
        stmt = stmt.where(await visible_to(uow.session, actor))
        rows = list(await uow.session.scalars(stmt.order_by(*order).limit(page.limit + 1)))
    return make_page(rows, page.limit,
                     lambda h: [(h.due_at if by_due else h.created_at).isoformat(), str(h.id)])


def _conditions(where: HomeworkFilter, now: datetime) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.status == HomeworkStatus.OVERDUE:
        conditions += [Homework.status == HomeworkStatus.ASSIGNED, Homework.due_at < now]
    elif where.status == HomeworkStatus.ASSIGNED:
        conditions += [Homework.status == HomeworkStatus.ASSIGNED, Homework.due_at >= now]
    elif where.status is not None:
        conditions.append(Homework.status == where.status)
    if where.student_id is not None:
        conditions.append(Homework.student_id == where.student_id)
    if where.due_before is not None:
        conditions.append(Homework.due_at < _utc(where.due_before, ["query", "due_before"]))
    return conditions


def _after(by_due: bool, at: datetime, homework_id: uuid.UUID) -> ColumnElement[bool]:
    if by_due:
        return or_(Homework.due_at > at, and_(Homework.due_at == at, Homework.id > homework_id))
    return or_(Homework.created_at < at, and_(Homework.created_at == at, Homework.id < homework_id))


def _utc(value: datetime, loc: list[str]) -> datetime:
    """`value` in UTC; 422 for a time that has no UTC equivalent (year 1 or 9999 with an offset)."""
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise Unprocessable("Time out of range", errors=[{"loc": loc, "msg": "out of range"}]) from exc


async def visible_to(session: AsyncSession, actor: Principal) -> ColumnElement[bool]:
    """Which homework a user lists: their own; a parent their children's; an admin all."""
    if actor.role == "admin":
        return true()
    if actor.role == "teacher":
        return Homework.teacher_id == actor.id
    if actor.role == "student":
        return Homework.student_id == actor.id
    if actor.role == "parent":
        return Homework.student_id.in_(await roster.people.children_of(session, actor.id))
    return false()
