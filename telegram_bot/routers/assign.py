"""A teacher assigns homework in a short dialogue: the student (buttons), the task (text), the
due day (buttons); then it is one `POST /api/v1/homework`."""
from __future__ import annotations

import uuid
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from aiogram import F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError
from telegram_bot.identity import Caller, Linked
from telegram_bot.keyboards import AssignCB, due_keyboard, students_keyboard
from telegram_bot.routers.lessons import first_tap

router = Router(name="assign")
router.message.filter(Linked("teacher"))
router.callback_query.filter(Linked("teacher"))
DUE_HOUR = 20   # homework is due at 20:00 in the teacher's time zone


class AssignHomework(StatesGroup):
    task = State()
    due = State()


@router.message(Command("assign"))
async def choose_student(message: Message, caller: Caller, state: FSMContext) -> None:
    students = await caller.api.my_students()
    if not students:
        await message.answer(_("No students yet. Send /invite to get a link for a new student."))
        return
    await state.clear()
    await message.answer(_("Homework for whom?"), reply_markup=students_keyboard(students))


@router.callback_query(AssignCB.filter(F.student_id.is_not(None)))
async def ask_task(callback: CallbackQuery, callback_data: AssignCB, state: FSMContext) -> None:
    await state.set_state(AssignHomework.task)
    await state.set_data({"student_id": str(callback_data.student_id)})
    await callback.answer()
    if isinstance(callback.message, Message):
        await callback.message.answer(_("Write the task in one message."))


@router.message(StateFilter(AssignHomework.task), F.text, ~F.text.startswith("/"))
async def take_task(message: Message, state: FSMContext) -> None:
    await state.update_data(task=(message.text or "")[:200])
    await state.set_state(AssignHomework.due)
    await message.answer(_("Due when?"), reply_markup=due_keyboard())


@router.message(StateFilter(AssignHomework.task), ~F.text)
async def task_not_text(message: Message) -> None:
    await message.answer(_("Please write the task as text."))


@router.callback_query(AssignCB.filter(F.days > 0), StateFilter(AssignHomework.due))
async def assign(callback: CallbackQuery, callback_data: AssignCB, caller: Caller, state: FSMContext,
                 chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    data = await state.get_data()
    zone = ZoneInfo(caller.session.timezone)
    day = datetime.now(zone).date() + timedelta(days=callback_data.days)
    try:
        homework = await caller.api.assign_homework(uuid.UUID(data["student_id"]), data["task"],
                                                    datetime.combine(day, time(DUE_HOUR), tzinfo=zone), key=key)
    except ApiError as exc:
        if exc.status not in (403, 404, 422):
            raise
        await callback.answer(_("The platform refused: {detail}").format(detail=exc.detail), show_alert=True)
        return
    await state.clear()
    await callback.answer(_("Assigned."))
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("Assigned: {title}, due {due}").format(
            title=homework.title, due=day.strftime("%d.%m")))


@router.callback_query(AssignCB.filter(F.days > 0))
async def stale_due(callback: CallbackQuery) -> None:
    await callback.answer(_("This button has expired."), show_alert=True)
