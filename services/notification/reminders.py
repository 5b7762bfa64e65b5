"""Lesson reminders: armed when a lesson is scheduled, moved when it is rescheduled, dropped
when it is cancelled or completed, turned into notifications by the dispatcher when due.

Reminders are rows keyed by (lesson, offset), armed and sent as `due.py` says.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from services.notification import due, metrics
from services.notification.deps import NotificationDeps
from services.notification.domain import reminder_due_at, reminder_is_current, reminders_to_arm
from services.notification.models import Lesson, Reminder
from services.notification.service import notify
from shared.db import UnitOfWork
from shared.events import LessonCancelled, LessonCompleted, LessonRescheduled, LessonScheduled


async def lesson_scheduled(uow: UnitOfWork, deps: NotificationDeps, p: LessonScheduled) -> None:
    lesson = await uow.session.get(Lesson, p.lesson_id, with_for_update=True)
    if lesson is None:
        lesson = Lesson(lesson_id=p.lesson_id, starts_at=p.starts_at, status="scheduled")
        uow.session.add(lesson)
    # a reschedule may have come first: it knows the newer time, this event the participants
    lesson.teacher_id, lesson.student_id = p.teacher_id, p.student_id
    lesson.subject, lesson.title = p.subject, p.title
    await uow.session.flush()
    await _arm(uow, deps, lesson)


async def lesson_rescheduled(uow: UnitOfWork, deps: NotificationDeps, p: LessonRescheduled) -> Lesson:
    lesson = await uow.session.get(Lesson, p.lesson_id, with_for_update=True)
    if lesson is None:
        lesson = Lesson(lesson_id=p.lesson_id, teacher_id=p.teacher_id, student_id=p.student_id,
                        subject="", status="scheduled", starts_at=p.starts_at)
        uow.session.add(lesson)
    lesson.starts_at = p.starts_at
    await uow.session.flush()
    await _arm(uow, deps, lesson)
    return lesson


async def lesson_ended(uow: UnitOfWork, p: LessonCancelled | LessonCompleted, status: str) -> Lesson:
    """Cancelled or completed: no more reminders for it, even if its scheduling comes later."""
    lesson = await uow.session.get(Lesson, p.lesson_id, with_for_update=True)
    if lesson is None:
        lesson = Lesson(lesson_id=p.lesson_id, teacher_id=p.teacher_id, student_id=p.student_id,
                        subject=getattr(p, "subject", ""), starts_at=p.starts_at)
        uow.session.add(lesson)
    lesson.status = status
    await uow.session.flush()
    await uow.session.execute(update(Reminder).where(
        Reminder.lesson_id == p.lesson_id, Reminder.state == "pending").values(state="cancelled"))
    return lesson


async def _arm(uow: UnitOfWork, deps: NotificationDeps, lesson: Lesson) -> None:
    if lesson.status != "scheduled":
        return
    offsets = deps.settings.reminder_offsets_minutes
    armed = set(reminders_to_arm(lesson.starts_at, deps.clock(), offsets))
    for offset in offsets:
        await due.arm(uow.session, Reminder, {"lesson_id": lesson.lesson_id, "offset_minutes": offset},
                      due_at=reminder_due_at(lesson.starts_at, offset), pending=offset in armed)


async def send_due_reminders(uow: UnitOfWork, deps: NotificationDeps, now: datetime, *, limit: int) -> int:
    """Turn the reminders due at `now` into notifications; returns how many were sent."""
    offsets = deps.settings.reminder_offsets_minutes
    return await due.send_due(
        uow, Reminder, Lesson, Lesson.lesson_id == Reminder.lesson_id, now, limit=limit,
        outcome=lambda reminder, lesson: _outcome(reminder, lesson, now, offsets),
        send=lambda reminder, lesson: _remind(uow, deps, reminder, lesson, now), counter=metrics.REMINDERS)


def _outcome(reminder: Reminder, lesson: Lesson, now: datetime, offsets: list[int]) -> str:
    if lesson.status != "scheduled":
        return "cancelled"
    if not (lesson.student_id or lesson.teacher_id):
        return "stale"
    current = reminder_is_current(reminder.offset_minutes, lesson.starts_at, now,
                                  sorted({*offsets, reminder.offset_minutes}))
    return "sent" if current else "stale"


async def _remind(uow: UnitOfWork, deps: NotificationDeps, reminder: Reminder, lesson: Lesson, now: datetime) -> None:
    people = [p for p in (lesson.student_id, lesson.teacher_id) if p]
    data = {"lesson_id": lesson.lesson_id, "lesson_name": lesson.title or lesson.subject or None,
            "subject": lesson.subject or None, "starts_at": lesson.starts_at,
            "offset_minutes": reminder.offset_minutes}
    key = f"reminder:{lesson.lesson_id}:{reminder.offset_minutes}:{lesson.starts_at.isoformat()}"
    await notify(uow, deps, "lesson_reminder", people, data, key=key, deliver_by=lesson.starts_at, now=now)
