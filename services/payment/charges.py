"""Lesson charges, from the lesson service's events: a completed priced lesson is charged once,
whatever the deliveries (the inbox skips a redelivered event; the unique (kind, lesson_id) and a
check under the account's lock skip another event about the same lesson); a late cancellation by
the student is charged by the teacher's policy."""
from __future__ import annotations

from datetime import datetime

from services.payment import ledger
from services.payment.domain import EntryKind, LateCancelPolicy, cancelled_by_student
from shared.db import UnitOfWork
from shared.events import Event, LessonCancelled, LessonCompleted


async def charge_completed_lesson(uow: UnitOfWork, event: Event) -> None:
    p = event.payload_as(LessonCompleted)
    if not p.price or p.price <= 0:
        return
    account = await ledger.locked_account(uow.session, p.student_id, p.teacher_id, p.currency)
    if await ledger.lesson_entry_exists(uow.session, EntryKind.LESSON_CHARGE, p.lesson_id):
        return
    account.lesson_price = p.price
    await ledger.append(uow, account, EntryKind.LESSON_CHARGE, p.price, lesson_id=p.lesson_id,
                        reason=p.subject[:500] or None, now=event.occurred_at)


async def charge_late_cancellation(uow: UnitOfWork, event: Event) -> None:
    p = event.payload_as(LessonCancelled)
    extra = p.model_extra or {}
    price, currency = extra.get("price"), extra.get("currency") or "RUB"
    if not isinstance(price, int) or price <= 0:
        return
    if not cancelled_by_student(extra.get("cancelled_by_role"), p.cancelled_by, p.student_id):
        return
    policy = await ledger.policy_of(uow.session, p.teacher_id)
    rule = LateCancelPolicy(percent=policy.late_cancel_percent, hours=policy.late_cancel_hours)
    amount = rule.charge(price, p.starts_at, _cancelled_at(extra.get("cancelled_at"), event.occurred_at))
    if amount == 0:
        return
    account = await ledger.locked_account(uow.session, p.student_id, p.teacher_id, str(currency))
    if await ledger.lesson_entry_exists(uow.session, EntryKind.LATE_CANCEL_CHARGE, p.lesson_id):
        return
    await ledger.append(uow, account, EntryKind.LATE_CANCEL_CHARGE, amount, lesson_id=p.lesson_id,
                        reason=f"cancelled late: {policy.late_cancel_percent}% of {price}", now=event.occurred_at)


def _cancelled_at(value: object, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo else fallback
    return value if isinstance(value, datetime) and value.tzinfo else fallback
