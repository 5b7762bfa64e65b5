"""People: a teacher's students and invite link, a student's invite link for a parent, a parent's
children (each with progress and the week's lessons)."""
from __future__ import annotations

import uuid

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from telegram_bot import texts
from telegram_bot.gateway import ApiError
from telegram_bot.identity import Caller, Linked, tap_key
from telegram_bot.routers.lessons import day_window

router = Router(name="people")
router.message.filter(Linked())


@router.message(Command("students"), Linked("teacher"))
async def students(message: Message, caller: Caller) -> None:
    found = await caller.api.my_students()
    if not found:
        await message.answer(_("No students yet. Send /invite to get a link for a new student."))
        return
    lines = []
    for person in found:
        debt = await _debt(caller, person.id)
        lines.append(f"• {person.full_name}" + (" — " + _("debt {amount}").format(amount=debt) if debt else ""))
    await message.answer(_("Your students:") + "\n" + "\n".join(lines))


async def _debt(caller: Caller, student_id: uuid.UUID) -> str | None:
    """What the student owes the teacher, when the balance is below zero."""
    try:
        found = await caller.api.balance(student_id)
    except ApiError as exc:
        if exc.status not in (403, 404, 422):
            raise
        return None
    if found.balance is None or found.balance.amount >= 0:
        return None
    return f"{-found.balance.amount / 100:.2f} {found.balance.currency}".replace(".00 ", " ")


@router.message(Command("invite"), Linked("teacher"))
async def teacher_invite(message: Message, caller: Caller) -> None:
    invite = await caller.api.teacher_invite(key=tap_key(message.chat.id, message.message_id, "invite"))
    await message.answer(_("Send this link to your new student; it works once, until {until}:").format(
        until=texts.local(invite.expires_at, caller.session.timezone).strftime("%d.%m %H:%M"))
        + f"\n{invite.telegram_url}")


@router.message(Command("parent_invite"), Linked("student"))
async def parent_invite(message: Message, caller: Caller) -> None:
    invite = await caller.api.parent_invite(key=tap_key(message.chat.id, message.message_id, "parent_invite"))
    await message.answer(_("Send this link to your parent:") + f"\n{invite.telegram_url}")


@router.message(Command("children"), Linked("parent"))
async def children(message: Message, caller: Caller) -> None:
    kids = await caller.api.children()
    if not kids:
        await message.answer(_("No children linked yet: ask your child to send you an invite (/parent_invite)."))
        return
    start, end = day_window(caller.session.timezone, 7)
    lessons = await caller.api.lessons(start, end)
    for child in kids:
        parts = [child.full_name]
        try:
            parts.append(texts.progress(await caller.api.profile(child.id)))
        except ApiError as exc:
            if exc.status != 404:
                raise
        own = [lesson for lesson in lessons if lesson.student_id == child.id]
        parts.append(texts.schedule(own, caller.session.timezone, _("Lessons this week")))
        await message.answer("\n\n".join(parts))
