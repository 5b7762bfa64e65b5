"""CSV exports, streamed a chunk of rows at a time from a server-side cursor: UTF-8 with a byte order
mark, so that Excel reads Cyrillic names right. A teacher exports their own; an admin everyone's."""
from __future__ import annotations

import csv
import io
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from services.analytics import domain, metrics
from services.analytics.models import HomeworkFact, LessonFact, MoneyEntry
from services.analytics.overview import paid_to
from services.analytics.people import people
from services.analytics.progress import student_progress
from shared.db import UnitOfWork

BOM = "\ufeff"
CHUNK = 500


@dataclass(frozen=True)
class ReportRequest:
    teacher_id: uuid.UUID | None   # None: an admin's, of every teacher
    start: datetime
    end: datetime
    viewer: Any                    # service.Viewer: the zone times are written in
    now: datetime


@dataclass(frozen=True)
class Report:
    header: Sequence[str]
    rows: Callable[[UnitOfWork, ReportRequest], AsyncIterator[list[list[Any]]]]


async def stream(uow: UnitOfWork, name: str, request: ReportRequest) -> AsyncIterator[bytes]:
    """The report's bytes: the header line first (with the BOM), then a chunk of rows at a time."""
    report = REPORTS[name]
    metrics.REPORTS_EXPORTED.labels(name).inc()
    yield (BOM + _csv([list(report.header)])).encode()
    async with uow.read_only():
        async for chunk in report.rows(uow, request):
            yield _csv(chunk).encode()


def _csv(rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([[_cell(value) for value in row] for row in rows])
    return buffer.getvalue()


def _cell(value: Any) -> Any:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):   # no formulas from names (CSV injection)
        return "'" + value
    return value


def _local(moment: datetime | None, request: ReportRequest) -> str:
    return moment.astimezone(request.viewer.tz).isoformat(timespec="minutes") if moment else ""


async def _chunks(uow: UnitOfWork, query: Select) -> AsyncIterator[Sequence[Any]]:
    result = await uow.session.stream(query.execution_options(yield_per=CHUNK))
    async for partition in result.partitions(CHUNK):
        yield partition


async def _lesson_rows(uow: UnitOfWork, request: ReportRequest) -> AsyncIterator[list[list[Any]]]:
    query = select(LessonFact).where(LessonFact.starts_at >= request.start, LessonFact.starts_at < request.end)
    if request.teacher_id is not None:
        query = query.where(LessonFact.teacher_id == request.teacher_id)
    async for partition in _chunks(uow, query.order_by(LessonFact.starts_at, LessonFact.lesson_id)):
        lessons = [row[0] for row in partition]
        names = await people.names_of(uow.session, {x.student_id for x in lessons} | {x.teacher_id for x in lessons})
        yield [[_local(x.starts_at, request), names.get(x.teacher_id), names.get(x.student_id), x.subject,
                x.lesson_type, x.status, x.duration_minutes, x.attended, x.score, x.cancelled_by_role, x.price,
                x.currency, x.lesson_id] for x in lessons]


async def _payment_rows(uow: UnitOfWork, request: ReportRequest) -> AsyncIterator[list[list[Any]]]:
    query = select(MoneyEntry).where(MoneyEntry.at >= request.start, MoneyEntry.at < request.end)
    if request.teacher_id is not None:
        students = await people.students_of(uow.session, request.teacher_id)
        query = query.where(paid_to(request.teacher_id, students))
    async for partition in _chunks(uow, query.order_by(MoneyEntry.at, MoneyEntry.event_id)):
        entries = [row[0] for row in partition]
        names = await people.names_of(uow.session, {x.student_id for x in entries})
        yield [[_local(x.at, request), names.get(x.student_id), x.kind, x.amount, x.currency, x.provider,
                x.payment_id] for x in entries]


async def _homework_rows(uow: UnitOfWork, request: ReportRequest) -> AsyncIterator[list[list[Any]]]:
    query = select(HomeworkFact).where(HomeworkFact.due_at >= request.start, HomeworkFact.due_at < request.end)
    if request.teacher_id is not None:
        query = query.where(HomeworkFact.teacher_id == request.teacher_id)
    async for partition in _chunks(uow, query.order_by(HomeworkFact.due_at, HomeworkFact.homework_id)):
        items = [row[0] for row in partition]
        names = await people.names_of(uow.session, {x.student_id for x in items})
        yield [[x.title, names.get(x.student_id), _local(x.due_at, request), _local(x.submitted_at, request),
                x.on_time, x.score, x.max_score, domain.percent(x.score, x.max_score), x.homework_id] for x in items]


async def _progress_rows(uow: UnitOfWork, request: ReportRequest) -> AsyncIterator[list[list[Any]]]:
    """One line per student (of the teacher; an admin's: every student with a teacher)."""
    if request.teacher_id is not None:
        students = await people.students_of(uow.session, request.teacher_id)
    else:
        students = sorted(set(await uow.session.scalars(select(people.teacher_links.student_id))))
    names = await people.names_of(uow.session, students)
    for start in range(0, len(students), CHUNK):
        chunk = []
        for student in students[start:start + CHUNK]:
            p = await student_progress(uow.session, student, names.get(student), request.start, request.end,
                                       request.viewer.tz, request.now)
            chunk.append([names.get(student), p.lessons.completed, p.lessons.attended, p.lessons.cancelled,
                          p.lessons.attendance_rate, p.homework.submitted, p.homework.on_time_rate,
                          p.homework.average_score, p.xp.in_range, p.xp.total, p.xp.level, p.streak_days,
                          p.words_learned, p.materials_studied, _local(p.last_activity_at, request), student])
        yield chunk


REPORTS: dict[str, Report] = {
    "lessons": Report(("starts_at", "teacher", "student", "subject", "lesson_type", "status", "duration_minutes",
                       "attended", "score", "cancelled_by", "price", "currency", "lesson_id"), _lesson_rows),
    "payments": Report(("at", "student", "kind", "amount", "currency", "provider", "payment_id"), _payment_rows),
    "homework": Report(("title", "student", "due_at", "submitted_at", "on_time", "score", "max_score", "percent",
                        "homework_id"), _homework_rows),
    "progress": Report(("student", "lessons_completed", "lessons_attended", "lessons_cancelled", "attendance_rate",
                        "homework_submitted", "homework_on_time_rate", "homework_average", "xp_in_range",
                        "xp_total", "level", "streak_days", "words_learned", "materials_studied",
                        "last_activity_at", "student_id"), _progress_rows),
}
