"""Who is told what when something happens elsewhere: one use case per event."""
from __future__ import annotations

import uuid

from services.notification import readmodel as people
from services.notification.deps import NotificationDeps
from services.notification.domain import is_low_balance_alert
from services.notification.models import Lesson
from services.notification.service import notify
from shared.db import UnitOfWork
from shared.events import (
    AchievementEarned,
    BalanceUpdated,
    Event,
    HomeworkAssigned,
    HomeworkGraded,
    HomeworkSubmitted,
    LessonCancelled,
    LessonCompleted,
    LessonRescheduled,
    MaterialUploaded,
    PaymentCompleted,
    PaymentRefunded,
    StudentLevelUp,
)


def _lesson_data(lesson: Lesson) -> dict:
    return {"lesson_id": lesson.lesson_id, "lesson_name": lesson.title or lesson.subject or None,
            "subject": lesson.subject or None}


async def lesson_completed(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: LessonCompleted) -> None:
    told = [p.student_id, *await people.parents_of(uow.session, p.student_id)]
    data = {"student_id": p.student_id, "student_name": await people.name_of(uow.session, p.student_id),
            "subject": p.subject, "starts_at": p.starts_at, "score": p.score, "attended": p.attended}
    await notify(uow, deps, "lesson_completed", told, data, key=str(event.id))


async def lesson_cancelled(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: LessonCancelled,
                           lesson: Lesson) -> None:
    """The participant who did not cancel, and the student's parents."""
    participants = [p.student_id, p.teacher_id, *await people.parents_of(uow.session, p.student_id)]
    data = {**_lesson_data(lesson), "starts_at": p.starts_at, "reason": p.reason,
            "cancelled_by_name": await people.name_of(uow.session, p.cancelled_by)}
    await notify(uow, deps, "lesson_cancelled", [u for u in participants if u != p.cancelled_by], data,
                 key=str(event.id))


async def lesson_rescheduled(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: LessonRescheduled,
                             lesson: Lesson) -> None:
    """The teacher moves lessons; the student and their parents are told."""
    if lesson.student_id is None or lesson.status != "scheduled":
        return
    told = [lesson.student_id, *await people.parents_of(uow.session, lesson.student_id)]
    data = {**_lesson_data(lesson), "old_starts_at": p.old_starts_at, "starts_at": p.starts_at}
    await notify(uow, deps, "lesson_rescheduled", told, data, key=str(event.id))


async def homework_assigned(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: HomeworkAssigned) -> None:
    data = {"homework_id": p.homework_id, "title": p.title, "due_at": p.due_at,
            "teacher_name": await people.name_of(uow.session, p.teacher_id)}
    await notify(uow, deps, "homework_assigned", [p.student_id], data, key=str(event.id))


async def homework_submitted(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: HomeworkSubmitted) -> None:
    data = {"homework_id": p.homework_id, "title": await people.homework_title(uow.session, p.homework_id),
            "student_name": await people.name_of(uow.session, p.student_id),
            "submitted_at": p.submitted_at, "on_time": p.on_time}
    await notify(uow, deps, "homework_submitted", [p.teacher_id], data, key=str(event.id))


async def homework_graded(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: HomeworkGraded) -> None:
    data = {"homework_id": p.homework_id, "title": await people.homework_title(uow.session, p.homework_id),
            "score": p.score, "max_score": p.max_score, "feedback": (p.model_extra or {}).get("feedback")}
    await notify(uow, deps, "homework_graded", [p.student_id], data, key=str(event.id))


async def payment_completed(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: PaymentCompleted) -> None:
    data = {"amount": p.amount, "currency": p.currency, "student_id": p.student_id,
            "student_name": await people.name_of(uow.session, p.student_id)}
    await notify(uow, deps, "payment_completed", [p.payer_id], data, key=str(event.id))


async def payment_refunded(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: PaymentRefunded) -> None:
    data = {"amount": p.amount, "currency": p.currency, "student_id": p.student_id,
            "student_name": await people.name_of(uow.session, p.student_id)}
    await notify(uow, deps, "payment_refunded", await people.payers_of(uow.session, p.student_id), data,
                 key=str(event.id))


async def balance_updated(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: BalanceUpdated) -> None:
    """Low balance: the payer and the teacher, once per crossing under the threshold."""
    if p.low_balance_crossed is not None:
        # the payment service keeps each account's flag and its teacher's threshold: it says when
        if not p.low_balance_crossed:
            return
        threshold = p.threshold if p.threshold is not None else deps.settings.low_balance_threshold
        teachers = [p.teacher_id] if p.teacher_id else await people.teachers_of(uow.session, p.student_id)
    else:   # an event without the account's state: the balance's own history decides
        threshold = deps.settings.low_balance_threshold
        previous = await people.swap_balance(uow.session, p.student_id, p.balance)
        if not is_low_balance_alert(p.balance, previous, threshold):
            return
        teachers = await people.teachers_of(uow.session, p.student_id)
    told = [*await people.payers_of(uow.session, p.student_id), *teachers]
    data = {"balance": p.balance, "currency": p.currency, "threshold": threshold, "student_id": p.student_id,
            "student_name": await people.name_of(uow.session, p.student_id), "teacher_id": p.teacher_id}
    await notify(uow, deps, "low_balance", told, data, key=str(event.id))


async def level_up(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: StudentLevelUp) -> None:
    data = {"old_level": p.old_level, "new_level": p.new_level, "xp": p.xp}
    await notify(uow, deps, "level_up", [p.student_id], data, key=str(event.id))


async def achievement_earned(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: AchievementEarned) -> None:
    data = {"code": p.code, "title": p.title, "tier": p.tier, "earned_at": p.earned_at}
    await notify(uow, deps, "achievement_earned", [p.student_id], data, key=str(event.id))


async def material_uploaded(uow: UnitOfWork, deps: NotificationDeps, event: Event, p: MaterialUploaded) -> None:
    """A material the teacher's students may see: each of them is told."""
    if p.visibility == "private":
        return
    data = {"material_id": p.material_id, "title": p.title, "subject": p.subject,
            "teacher_name": await people.name_of(uow.session, p.teacher_id)}
    await notify(uow, deps, "material_uploaded", await people.students_of(uow.session, p.teacher_id), data,
                 key=str(event.id))


async def link_created(uow: UnitOfWork, deps: NotificationDeps, event: Event, student_id: uuid.UUID,
                       other_id: uuid.UUID, relation: str) -> None:
    """A new teacher or parent link is told to the student, who can remove one they do not know."""
    data = {"relation": relation, "user_id": other_id, "name": await people.name_of(uow.session, other_id)}
    await notify(uow, deps, "link_created", [student_id], data, key=str(event.id))
