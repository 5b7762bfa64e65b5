"""What this service knows of people (the shared read model, `shared.people`, with how to reach
them) and of other services' things, learned from events."""
from __future__ import annotations

import uuid

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notification.channels import Recipient
from services.notification.domain import DEFAULT_TIMEZONE, normalise_locale
from services.notification.models import (
    BalanceMark,
    Contact,
    Delivery,
    Homework,
    Notification,
    ParentLink,
    Preference,
    TeacherLink,
)
from shared.people import People
from shared.sql import insert_for

people = People(Contact, TeacherLink, ParentLink, erase_deleted=True)   # nothing of a deleted user stays
name_of, parents_of, teachers_of, students_of = people.name_of, people.parents_of, people.teachers_of, people.students_of


async def link_telegram(session: AsyncSession, user_id: uuid.UUID, chat_id: int) -> None:
    await people.record_user(session, user_id, {"telegram_chat_id": chat_id}, overwrite=True)


async def unlink_telegram(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(update(Contact).where(Contact.id == user_id).values(telegram_chat_id=None))


async def erase_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account, beyond the read model of people (which erases its contact data and
    links): its preferences, notices and pending deliveries go (docs/security.md)."""
    await session.execute(delete(Preference).where(Preference.user_id == user_id))
    await session.execute(delete(Delivery).where(Delivery.user_id == user_id))
    await session.execute(delete(Notification).where(Notification.user_id == user_id))


async def drop_pending_deliveries(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deactivated account: what was queued for it is not sent (skipped, with the reason)."""
    await session.execute(update(Delivery).where(Delivery.user_id == user_id, Delivery.status == "pending")
                          .values(status="skipped", last_error="account deactivated"))


async def payers_of(session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
    """Who pays for a student's lessons: their parents, or the student when none is linked."""
    return await people.parents_of(session, student_id) or [student_id]


async def recipients(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, Recipient]:
    """The people we know among `user_ids`; the others are missing from the result."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(Contact).where(Contact.id.in_(user_ids)))
    return {c.id: Recipient(user_id=c.id, full_name=c.full_name or "", email=c.email,
                            telegram_chat_id=c.telegram_chat_id, locale=normalise_locale(c.locale),
                            timezone=c.timezone or DEFAULT_TIMEZONE) for c in rows}


async def homework_title(session: AsyncSession, homework_id: uuid.UUID) -> str | None:
    return await session.scalar(select(Homework.title).where(Homework.homework_id == homework_id))


async def swap_balance(session: AsyncSession, student_id: uuid.UUID, balance: int) -> int | None:
    """Store the student's new balance; return the one seen before (None the first time)."""
    mark = await session.get(BalanceMark, student_id, with_for_update=True)
    if mark is None:
        await session.execute(insert_for(session, BalanceMark).values(
            student_id=student_id, balance=balance).on_conflict_do_nothing())
        return None
    previous, mark.balance = mark.balance, balance
    return previous
