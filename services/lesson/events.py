"""The events a lesson emits, built from its current state (payload models: shared.events)."""
from __future__ import annotations

from datetime import datetime

from services.lesson.domain import Attendance
from services.lesson.models import Lesson
from shared.events import LessonCancelled, LessonCompleted, LessonRescheduled, LessonScheduled, LessonStarted


def scheduled(lesson: Lesson) -> LessonScheduled:
    return LessonScheduled(
        lesson_id=lesson.id, teacher_id=lesson.teacher_id, student_id=lesson.student_id,
        subject=lesson.subject, title=lesson.title, starts_at=lesson.starts_at,
        duration_minutes=lesson.duration_minutes, series_id=lesson.series_id,
        lesson_type=lesson.lesson_type, ends_at=lesson.ends_at, **_price(lesson))


def rescheduled(lesson: Lesson, old_starts_at: datetime) -> LessonRescheduled:
    return LessonRescheduled(
        lesson_id=lesson.id, teacher_id=lesson.teacher_id, student_id=lesson.student_id,
        old_starts_at=old_starts_at, starts_at=lesson.starts_at, duration_minutes=lesson.duration_minutes,
        ends_at=lesson.ends_at, series_id=lesson.series_id, subject=lesson.subject)


def started(lesson: Lesson) -> LessonStarted:
    return LessonStarted(lesson_id=lesson.id, teacher_id=lesson.teacher_id, student_id=lesson.student_id,
                         started_at=lesson.started_at)


def completed(lesson: Lesson) -> LessonCompleted:
    attendance = Attendance(lesson.attendance or Attendance.PRESENT)
    return LessonCompleted(
        lesson_id=lesson.id, teacher_id=lesson.teacher_id, student_id=lesson.student_id,
        subject=lesson.subject, title=lesson.title, lesson_type=lesson.lesson_type,
        starts_at=lesson.starts_at, duration_minutes=lesson.duration_minutes, score=lesson.score,
        attended=attendance.attended, attendance=attendance.value, series_id=lesson.series_id,
        completed_at=lesson.completed_at, **_price(lesson))


def cancelled(lesson: Lesson) -> LessonCancelled:
    assert lesson.cancelled_by is not None and lesson.cancellation_reason is not None
    return LessonCancelled(
        lesson_id=lesson.id, teacher_id=lesson.teacher_id, student_id=lesson.student_id,
        cancelled_by=lesson.cancelled_by, cancelled_by_role=lesson.cancelled_by_role,
        reason=lesson.cancellation_reason, starts_at=lesson.starts_at,
        duration_minutes=lesson.duration_minutes, lesson_type=lesson.lesson_type,
        cancelled_at=lesson.cancelled_at, series_id=lesson.series_id, **_price(lesson))


def _price(lesson: Lesson) -> dict[str, object]:
    """`price` in minor units and its `currency`; no price means nothing to charge."""
    if lesson.price_amount is None:
        return {"price": None}
    return {"price": lesson.price_amount, "currency": lesson.currency or "RUB"}
