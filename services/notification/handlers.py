"""Event handlers: each turns one event into a call of the read model, reminders or notices.

They only write rows (inbox items, deliveries due, reminders) in the inbox transaction;
the dispatcher sends."""
from __future__ import annotations

from services.notification import homework_reminders, notices, readmodel, reminders
from services.notification.deps import NotificationDeps
from services.notification.readmodel import people
from shared.db import UnitOfWork
from shared.events import (
    AchievementEarned,
    BalanceUpdated,
    Event,
    HomeworkAssigned,
    HomeworkGraded,
    HomeworkSubmitted,
    HomeworkUpdated,
    LessonCancelled,
    LessonCompleted,
    LessonRescheduled,
    LessonScheduled,
    MaterialUploaded,
    ParentLinked,
    PaymentCompleted,
    PaymentRefunded,
    StudentLevelUp,
    TeacherLinked,
    TelegramLinked,
    UserDeactivated,
    UserDeleted,
    UserUpdated,
)
from shared.inbox import Handlers


def notification_handlers(deps: NotificationDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    _read_model(handlers, deps)
    _lessons(handlers, deps)
    _notices(handlers, deps)
    return handlers


def _read_model(handlers: Handlers, deps: NotificationDeps) -> None:
    people.subscribe(handlers, owner=__name__)   # contacts and links: linked, unlinked, deleted

    @handlers.on("user.teacher_linked")
    async def notify_teacher_linked(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(TeacherLinked)
        await notices.link_created(uow, deps, event, p.student_id, p.teacher_id, "teacher")

    @handlers.on("user.parent_linked")
    async def notify_parent_linked(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(ParentLinked)
        await notices.link_created(uow, deps, event, p.student_id, p.parent_id, "parent")

    @handlers.on("user.deleted")
    async def erase_deleted_user(uow: UnitOfWork, event: Event) -> None:
        await readmodel.erase_user(uow.session, event.payload_as(UserDeleted).user_id)

    @handlers.on("user.deactivated")
    async def drop_deactivated_deliveries(uow: UnitOfWork, event: Event) -> None:
        await readmodel.drop_pending_deliveries(uow.session, event.payload_as(UserDeactivated).user_id)

    @handlers.on("user.telegram_linked")
    async def on_telegram_linked(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(TelegramLinked)
        await readmodel.link_telegram(uow.session, p.user_id, p.telegram_chat_id)

    @handlers.on("user.updated")
    async def forget_unlinked_chat(uow: UnitOfWork, event: Event) -> None:
        """A chat unlinked (the bot's /logout, a blocked bot, the chat moved to another account)
        is sent nothing more."""
        p = event.payload_as(UserUpdated)
        if p.changed.get("telegram_linked") is False:
            await readmodel.unlink_telegram(uow.session, p.user_id)


def _lessons(handlers: Handlers, deps: NotificationDeps) -> None:
    @handlers.on("lesson.scheduled")
    async def on_lesson_scheduled(uow: UnitOfWork, event: Event) -> None:
        await reminders.lesson_scheduled(uow, deps, event.payload_as(LessonScheduled))

    @handlers.on("lesson.rescheduled")
    async def on_lesson_rescheduled(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(LessonRescheduled)
        lesson = await reminders.lesson_rescheduled(uow, deps, p)
        await notices.lesson_rescheduled(uow, deps, event, p, lesson)

    @handlers.on("lesson.cancelled")
    async def on_lesson_cancelled(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(LessonCancelled)
        lesson = await reminders.lesson_ended(uow, p, "cancelled")
        await notices.lesson_cancelled(uow, deps, event, p, lesson)

    @handlers.on("lesson.completed")
    async def on_lesson_completed(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(LessonCompleted)
        await reminders.lesson_ended(uow, p, "completed")
        await notices.lesson_completed(uow, deps, event, p)


def _homework(handlers: Handlers, deps: NotificationDeps) -> None:
    """The student is told of new homework and of a grade, and reminded before it is due
    (`homework_reminders`); the teacher is told of each submission."""
    @handlers.on("homework.assigned")
    async def on_homework_assigned(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(HomeworkAssigned)
        await homework_reminders.homework_assigned(uow, deps, p)
        await notices.homework_assigned(uow, deps, event, p)

    @handlers.on("homework.updated")
    async def on_homework_updated(uow: UnitOfWork, event: Event) -> None:
        await homework_reminders.homework_updated(uow, deps, event.payload_as(HomeworkUpdated))

    @handlers.on("homework.submitted")
    async def on_homework_submitted(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(HomeworkSubmitted)
        await homework_reminders.homework_closed(uow, p.homework_id, "submitted")
        await notices.homework_submitted(uow, deps, event, p)

    @handlers.on("homework.graded")
    async def on_homework_graded(uow: UnitOfWork, event: Event) -> None:
        p = event.payload_as(HomeworkGraded)
        await homework_reminders.homework_closed(uow, p.homework_id, "graded")
        await notices.homework_graded(uow, deps, event, p)


def _notices(handlers: Handlers, deps: NotificationDeps) -> None:
    """Events that become one notice each: payments, progress, materials."""
    _homework(handlers, deps)

    @handlers.on("payment.completed")
    async def on_payment_completed(uow: UnitOfWork, event: Event) -> None:
        await notices.payment_completed(uow, deps, event, event.payload_as(PaymentCompleted))

    @handlers.on("payment.refunded")
    async def on_payment_refunded(uow: UnitOfWork, event: Event) -> None:
        await notices.payment_refunded(uow, deps, event, event.payload_as(PaymentRefunded))

    @handlers.on("balance.updated")
    async def on_balance_updated(uow: UnitOfWork, event: Event) -> None:
        await notices.balance_updated(uow, deps, event, event.payload_as(BalanceUpdated))

    @handlers.on("student.level_up")
    async def on_student_level_up(uow: UnitOfWork, event: Event) -> None:
        await notices.level_up(uow, deps, event, event.payload_as(StudentLevelUp))

    @handlers.on("achievement.earned")
    async def on_achievement_earned(uow: UnitOfWork, event: Event) -> None:
        await notices.achievement_earned(uow, deps, event, event.payload_as(AchievementEarned))

    @handlers.on("material.uploaded")
    async def on_material_uploaded(uow: UnitOfWork, event: Event) -> None:
        await notices.material_uploaded(uow, deps, event, event.payload_as(MaterialUploaded))
