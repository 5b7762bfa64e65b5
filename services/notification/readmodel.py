"""What this service knows of people and of other services' things, learned from events."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notification.channels import Recipient
from services.notification.domain import is_valid_timezone, normalise_locale
from services.notification.models import BalanceMark, Contact, Delivery, Homework, Link, Notification, Preference
from shared.events import UserCreated
from shared.sql import insert_for

_CONTACT_FIELDS = ("role", "full_name", "email", "locale", "timezone")


def _contact_values(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields we keep, cleaned: a locale we have templates for, a real time zone."""
    values = {k: v for k, v in fields.items() if k in _CONTACT_FIELDS and v is not None}
    if "locale" in values:
        values["locale"] = normalise_locale(str(values["locale"]))
    if "timezone" in values and not is_valid_timezone(str(values["timezone"])):
        del values["timezone"]
    if "full_name" in values:
        values["full_name"] = str(values["full_name"])[:200]
    return values


async def _upsert_contact(session: AsyncSession, user_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(insert_for(session, Contact).values(user_id=user_id).on_conflict_do_nothing())
    if values:
        await session.execute(update(Contact).where(Contact.user_id == user_id).values(**values))


async def record_user(session: AsyncSession, p: UserCreated) -> None:
    await _upsert_contact(session, p.user_id, _contact_values(p.model_dump()))


async def update_user(session: AsyncSession, user_id: uuid.UUID, changed: dict[str, Any]) -> None:
    await _upsert_contact(session, user_id, _contact_values(changed))


async def link_telegram(session: AsyncSession, user_id: uuid.UUID, chat_id: int) -> None:
    await _upsert_contact(session, user_id, {"telegram_chat_id": chat_id})


async def link(session: AsyncSession, student_id: uuid.UUID, related_id: uuid.UUID, relation: str) -> None:
    await session.execute(insert_for(session, Link).values(
        student_id=student_id, related_id=related_id, relation=relation).on_conflict_do_nothing())


async def unlink(session: AsyncSession, student_id: uuid.UUID, related_id: uuid.UUID, relation: str) -> None:
    await session.execute(delete(Link).where(Link.student_id == student_id, Link.related_id == related_id,
                                             Link.relation == relation))


async def forget_user(session: AsyncSession, user_id: uuid.UUID) -> None:
    """A deleted account: its contact data, links, preferences, notices and pending deliveries go."""
    await session.execute(delete(Contact).where(Contact.user_id == user_id))
    await session.execute(delete(Link).where(or_(Link.student_id == user_id, Link.related_id == user_id)))
    await session.execute(delete(Preference).where(Preference.user_id == user_id))
    await session.execute(delete(Delivery).where(Delivery.user_id == user_id))
    await session.execute(delete(Notification).where(Notification.user_id == user_id))


async def _related(session: AsyncSession, student_id: uuid.UUID, relation: str) -> list[uuid.UUID]:
    rows = await session.scalars(select(Link.related_id).where(
        Link.student_id == student_id, Link.relation == relation).order_by(Link.related_id))
    return list(rows)


async def teachers_of(session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
    return await _related(session, student_id, "teacher")


async def parents_of(session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
    return await _related(session, student_id, "parent")


async def payers_of(session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
    """Who pays for a student's lessons: their parents, or the student when none is linked."""
    return await parents_of(session, student_id) or [student_id]


async def students_of(session: AsyncSession, teacher_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(select(Link.student_id).where(
        Link.related_id == teacher_id, Link.relation == "teacher").order_by(Link.student_id))
    return list(rows)


async def name_of(session: AsyncSession, user_id: uuid.UUID | None) -> str | None:
    if user_id is None:
        return None
    return await session.scalar(select(Contact.full_name).where(Contact.user_id == user_id)) or None


async def recipients(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, Recipient]:
    """The people we know among `user_ids`; the others are missing from the result."""
    if not user_ids:
        return {}
    rows = await session.scalars(select(Contact).where(Contact.user_id.in_(user_ids)))
    return {c.user_id: Recipient(user_id=c.user_id, full_name=c.full_name, email=c.email,
                                 telegram_chat_id=c.telegram_chat_id, locale=c.locale,
                                 timezone=c.timezone) for c in rows}


async def remember_homework(session: AsyncSession, homework_id: uuid.UUID, title: str) -> None:
    statement = insert_for(session, Homework).values(homework_id=homework_id, title=title[:300])
    await session.execute(statement.on_conflict_do_update(
        index_elements=[Homework.homework_id], set_={"title": title[:300]}))


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
