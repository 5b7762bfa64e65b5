"""Homework reminders: the student is told `HOMEWORK_REMINDER_MINUTES` (24 h) before a homework
is due when nothing was handed in. Armed on `homework.assigned`, moved on `homework.updated`
(a new due time), dropped on `homework.submitted` and `homework.graded`; armed and sent as
lesson reminders are (`due.py`).

Events may come in any order: a submission heard of before the assignment leaves the
homework closed, and the assignment then arms nothing.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notification import due, metrics
from services.notification.deps import NotificationDeps
from services.notification.models import Homework, HomeworkReminder
from services.notification.service import notify
from shared.db import UnitOfWork
from shared.events import HomeworkAssigned, HomeworkUpdated
from shared.sql import insert_for

OPEN = "open"


async def homework_assigned(uow: UnitOfWork, deps: NotificationDeps, p: HomeworkAssigned) -> None:
    homework = await _homework(uow.session, p.homework_id, p.title)
    homework.title, homework.teacher_id, homework.student_id = p.title[:300], p.teacher_id, p.student_id
    if homework.due_at is None:   # a change heard of first knows the newer due time
        homework.due_at = p.due_at
    await uow.session.flush()
    await _arm(uow.session, deps, homework)


async def homework_updated(uow: UnitOfWork, deps: NotificationDeps, p: HomeworkUpdated) -> None:
    homework = await _homework(uow.session, p.homework_id, p.title)
    homework.title, homework.teacher_id, homework.student_id = p.title[:300], p.teacher_id, p.student_id
    homework.due_at = p.due_at
    await uow.session.flush()
    await _arm(uow.session, deps, homework)


async def homework_closed(uow: UnitOfWork, homework_id: uuid.UUID, state: str) -> None:
    """Submitted or graded: no reminder any more (a grade is never undone by a late submission)."""
    homework = await _homework(uow.session, homework_id, "")
    if homework.state != "graded":
        homework.state = state
    await uow.session.flush()
    await uow.session.execute(update(HomeworkReminder).where(
        HomeworkReminder.homework_id == homework_id, HomeworkReminder.state == "pending").values(state="cancelled"))


async def _homework(session: AsyncSession, homework_id: uuid.UUID, title: str) -> Homework:
    await session.execute(insert_for(session, Homework).values(
        homework_id=homework_id, title=title[:300], state=OPEN).on_conflict_do_nothing())
    homework = await session.get(Homework, homework_id, with_for_update=True, populate_existing=True)
    assert homework is not None
    return homework


def remind_at(due_at: datetime, minutes: int) -> datetime:
    return due_at - timedelta(minutes=minutes)


async def _arm(session: AsyncSession, deps: NotificationDeps, homework: Homework) -> None:
    """(Re)arm the reminder for the current due time; one already past at arming is not kept
    (the student was just told the due time by the assignment or the change)."""
    if homework.state != OPEN or homework.due_at is None:
        return
    at = remind_at(homework.due_at, deps.settings.homework_reminder_minutes)
    await due.arm(session, HomeworkReminder, {"homework_id": homework.homework_id}, due_at=at,
                  pending=at > deps.clock())


async def send_due_homework_reminders(uow: UnitOfWork, deps: NotificationDeps, now: datetime, *,
                                      limit: int) -> int:
    """Turn the homework reminders due at `now` into notifications; returns how many were sent."""
    return await due.send_due(
        uow, HomeworkReminder, Homework, Homework.homework_id == HomeworkReminder.homework_id, now, limit=limit,
        outcome=lambda _, homework: _outcome(homework, now), send=lambda _, homework: _remind(uow, deps, homework, now),
        counter=metrics.HOMEWORK_REMINDERS)


async def _remind(uow: UnitOfWork, deps: NotificationDeps, homework: Homework, now: datetime) -> None:
    assert homework.student_id is not None and homework.due_at is not None
    data = {"homework_id": homework.homework_id, "title": homework.title, "due_at": homework.due_at}
    await notify(uow, deps, "homework_reminder", [homework.student_id], data, now=now,
                 key=f"homework-reminder:{homework.homework_id}:{homework.due_at.isoformat()}",
                 deliver_by=homework.due_at)


def _outcome(homework: Homework, now: datetime) -> str:
    if homework.state != OPEN:
        return "cancelled"
    if homework.student_id is None or homework.due_at is None or homework.due_at <= now:
        return "stale"
    return "sent"
