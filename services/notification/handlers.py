"""Event handlers: each turns one event into a call of the read model, reminders or notices.

They only write rows (inbox items, deliveries due, reminders) in the inbox transaction;
the dispatcher sends. The unit of work is the service's own (`NotificationUow`)."""
from __future__ import annotations

from services.notification import notices, readmodel, reminders
from services.notification.readmodel import people
from services.notification.unit_of_work import NotificationUow
from shared.events import Event
from shared.inbox import Handlers

handlers = Handlers()


# --- read model -----------------------------------------------------------------------------
people.subscribe(handlers, owner=__name__)


@handlers.on("user.telegram_linked")
async def on_telegram_linked(uow: NotificationUow, event: Event) -> None:
    p = event.data()
    await readmodel.link_telegram(uow.session, p.user_id, p.telegram_chat_id)


# --- lessons ----------------------------------------------------------------------------------
@handlers.on("lesson.scheduled")
async def on_lesson_scheduled(uow: NotificationUow, event: Event) -> None:
    await reminders.lesson_scheduled(uow, event.data())


@handlers.on("lesson.rescheduled")
async def on_lesson_rescheduled(uow: NotificationUow, event: Event) -> None:
    p = event.data()
    lesson = await reminders.lesson_rescheduled(uow, p)
    await notices.lesson_rescheduled(uow, event, p, lesson)


@handlers.on("lesson.cancelled")
async def on_lesson_cancelled(uow: NotificationUow, event: Event) -> None:
    p = event.data()
    lesson = await reminders.lesson_ended(uow, p, "cancelled")
    await notices.lesson_cancelled(uow, event, p, lesson)


@handlers.on("lesson.completed")
async def on_lesson_completed(uow: NotificationUow, event: Event) -> None:
    p = event.data()
    await reminders.lesson_ended(uow, p, "completed")
    await notices.lesson_completed(uow, event, p)


# --- homework, payments, progress, materials --------------------------------------------------
@handlers.on("homework.assigned")
async def on_homework_assigned(uow: NotificationUow, event: Event) -> None:
    await notices.homework_assigned(uow, event, event.data())


@handlers.on("homework.submitted")
async def on_homework_submitted(uow: NotificationUow, event: Event) -> None:
    await notices.homework_submitted(uow, event, event.data())


@handlers.on("homework.graded")
async def on_homework_graded(uow: NotificationUow, event: Event) -> None:
    await notices.homework_graded(uow, event, event.data())


@handlers.on("payment.completed")
async def on_payment_completed(uow: NotificationUow, event: Event) -> None:
    await notices.payment_completed(uow, event, event.data())


@handlers.on("payment.refunded")
async def on_payment_refunded(uow: NotificationUow, event: Event) -> None:
    await notices.payment_refunded(uow, event, event.data())


@handlers.on("balance.updated")
async def on_balance_updated(uow: NotificationUow, event: Event) -> None:
    await notices.balance_updated(uow, event, event.data())


@handlers.on("student.level_up")
async def on_student_level_up(uow: NotificationUow, event: Event) -> None:
    await notices.level_up(uow, event, event.data())


@handlers.on("achievement.earned")
async def on_achievement_earned(uow: NotificationUow, event: Event) -> None:
    await notices.achievement_earned(uow, event, event.data())


@handlers.on("material.uploaded")
async def on_material_uploaded(uow: NotificationUow, event: Event) -> None:
    await notices.material_uploaded(uow, event, event.data())
