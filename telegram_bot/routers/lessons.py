"""Lessons: everyone's schedule (today, the week); the teacher's today with buttons to start,
complete (score, then attendance) and cancel (with a reason, typed or not)."""
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

from telegram_bot import texts
from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError, Lesson
from telegram_bot.identity import Caller, Linked, tap_key
from telegram_bot.keyboards import (
    NO_SCORE,
    AttendanceCB,
    CancelReasonCB,
    LessonAction,
    LessonCB,
    OpenLessonCB,
    Period,
    ScheduleCB,
    ScoreCB,
    attendance_keyboard,
    cancel_reason_keyboard,
    lesson_keyboard,
    schedule_keyboard,
    score_keyboard,
)

router = Router(name="lessons")
router.message.filter(Linked())
router.callback_query.filter(Linked())
teacher = Linked("teacher")


class CancelLesson(StatesGroup):
    reason = State()


def day_window(timezone: str, days: int) -> tuple[datetime, datetime]:
    """From the caller's midnight today, `days` days long."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(datetime.now(tz).date(), time(), tzinfo=tz)
    return start, start + timedelta(days=days)


async def names_of(caller: Caller) -> dict[uuid.UUID, str]:
    """The names a teacher or a parent sees next to each lesson."""
    if caller.role == "teacher":
        return {p.id: p.full_name for p in await caller.api.my_students()}
    if caller.role == "parent":
        return {p.id: p.full_name for p in await caller.api.children()}
    return {}


async def schedule_text(caller: Caller, period: Period) -> str:
    start, end = day_window(caller.session.timezone, 1 if period is Period.TODAY else 7)
    lessons = await caller.api.lessons(start, end)
    title = _("Lessons today") if period is Period.TODAY else _("Lessons this week")
    return texts.schedule(lessons, caller.session.timezone, title, await names_of(caller))


@router.message(Command("schedule"))
async def schedule(message: Message, caller: Caller) -> None:
    await message.answer(await schedule_text(caller, Period.WEEK), reply_markup=schedule_keyboard())


@router.callback_query(ScheduleCB.filter())
async def schedule_period(callback: CallbackQuery, callback_data: ScheduleCB, caller: Caller) -> None:
    text = await schedule_text(caller, callback_data.period)
    if isinstance(callback.message, Message) and callback.message.text != text:
        await callback.message.edit_text(text, reply_markup=schedule_keyboard())
    await callback.answer()


@router.message(Command("today"), teacher)
async def today(message: Message, caller: Caller) -> None:
    start, end = day_window(caller.session.timezone, 1)
    lessons, names = await caller.api.lessons(start, end), await names_of(caller)
    if not lessons:
        await message.answer(_("No lessons today."))
        return
    for lesson in lessons:
        await message.answer(lesson_card(lesson, caller, names), reply_markup=lesson_keyboard(lesson))


def lesson_card(lesson: Lesson, caller: Caller, names: dict[uuid.UUID, str] | None = None) -> str:
    who = (names or {}).get(lesson.student_id)
    return texts.lesson_line(lesson, caller.session.timezone) + (f"\n{who}" if who else "")


@router.callback_query(OpenLessonCB.filter())
async def open_lesson(callback: CallbackQuery, callback_data: OpenLessonCB, caller: Caller) -> None:
    """A reminder's button: the lesson as it is now (the teacher's card with its buttons)."""
    try:
        lesson = await caller.api.lesson(callback_data.lesson_id)
    except ApiError as exc:
        await lesson_problem(callback, caller, callback_data.lesson_id, exc)
        return
    if isinstance(callback.message, Message):
        buttons = lesson_keyboard(lesson) if caller.role == "teacher" else None
        await callback.message.answer(lesson_card(lesson, caller), reply_markup=buttons)
    await callback.answer()


async def first_tap(callback: CallbackQuery, chats: Chats) -> str | None:
    """The idempotency key of this tap, or None (answered) when the same button is being handled."""
    message_id = callback.message.message_id if callback.message else 0
    key = tap_key(callback.from_user.id, message_id, callback.data or "")
    if not await chats.claim_tap(key):
        await callback.answer(_("Already on it."))
        return None
    return key


async def show(callback: CallbackQuery, lesson: Lesson, caller: Caller, note: str = "") -> None:
    if isinstance(callback.message, Message):
        await callback.message.edit_text(lesson_card(lesson, caller) + (f"\n{note}" if note else ""),
                                         reply_markup=lesson_keyboard(lesson))


async def lesson_problem(callback: CallbackQuery, caller: Caller, lesson_id: uuid.UUID, exc: ApiError) -> None:
    """A tap the lesson service refused: a lesson gone, or in another state than the buttons thought."""
    if exc.status == 404:
        await callback.answer(_("This lesson no longer exists."), show_alert=True)
        if isinstance(callback.message, Message):
            await callback.message.edit_reply_markup(reply_markup=None)
        return
    if exc.status == 409:
        await callback.answer(_("Not possible now: the lesson is {status}.").format(
            status=texts.status_label((await caller.api.lesson(lesson_id)).status)), show_alert=True)
        await show(callback, await caller.api.lesson(lesson_id), caller)
        return
    if exc.status in (403, 422):
        await callback.answer(_("The platform refused: {detail}").format(detail=exc.detail), show_alert=True)
        return
    raise exc


@router.callback_query(LessonCB.filter(F.action == LessonAction.START), teacher)
async def start_lesson(callback: CallbackQuery, callback_data: LessonCB, caller: Caller, chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    try:
        lesson = await caller.api.start_lesson(callback_data.lesson_id, key=key)
    except ApiError as exc:
        await lesson_problem(callback, caller, callback_data.lesson_id, exc)
        return
    await show(callback, lesson, caller)
    await callback.answer(_("Started."))


@router.callback_query(LessonCB.filter(F.action == LessonAction.COMPLETE), teacher)
async def choose_score(callback: CallbackQuery, callback_data: LessonCB) -> None:
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=score_keyboard(callback_data.lesson_id))
    await callback.answer(_("The score?"))


@router.callback_query(ScoreCB.filter(), teacher)
async def choose_attendance(callback: CallbackQuery, callback_data: ScoreCB) -> None:
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(
            reply_markup=attendance_keyboard(callback_data.lesson_id, callback_data.score))
    await callback.answer(_("Was the student there?"))


@router.callback_query(AttendanceCB.filter(), teacher)
async def complete_lesson(callback: CallbackQuery, callback_data: AttendanceCB, caller: Caller,
                          chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    score = None if callback_data.score == NO_SCORE else callback_data.score
    try:
        lesson = await caller.api.complete_lesson(callback_data.lesson_id, score=score,
                                                  attended=callback_data.attended, key=key)
    except ApiError as exc:
        await lesson_problem(callback, caller, callback_data.lesson_id, exc)
        return
    await show(callback, lesson, caller)
    await callback.answer(_("Completed."))


@router.callback_query(LessonCB.filter(F.action == LessonAction.CANCEL), teacher)
async def ask_cancel_reason(callback: CallbackQuery, callback_data: LessonCB, state: FSMContext) -> None:
    await state.set_state(CancelLesson.reason)
    await state.update_data(lesson_id=str(callback_data.lesson_id))
    if isinstance(callback.message, Message):
        await callback.message.answer(_("Why is the lesson cancelled? Write the reason."),
                                      reply_markup=cancel_reason_keyboard(callback_data.lesson_id))
    await callback.answer()


@router.message(StateFilter(CancelLesson.reason), F.text, ~F.text.startswith("/"))
async def cancel_with_reason(message: Message, caller: Caller, state: FSMContext) -> None:
    lesson_id = uuid.UUID((await state.get_data())["lesson_id"])
    await state.clear()
    await cancel(message, caller, lesson_id, (message.text or "")[:500])


@router.message(StateFilter(CancelLesson.reason), ~F.text)
async def cancel_reason_not_text(message: Message) -> None:
    await message.answer(_("Please write the reason as text, or tap “Cancel without a reason”."))


@router.callback_query(CancelReasonCB.filter(), teacher)
async def cancel_without_reason(callback: CallbackQuery, callback_data: CancelReasonCB, caller: Caller,
                                state: FSMContext) -> None:
    await state.clear()
    await callback.answer()
    if isinstance(callback.message, Message):
        await cancel(callback.message, caller, callback_data.lesson_id, _("No reason given"))


async def cancel(message: Message, caller: Caller, lesson_id: uuid.UUID, reason: str) -> None:
    try:
        lesson = await caller.api.cancel_lesson(lesson_id, reason=reason, key=tap_key(message.chat.id, 0, str(lesson_id)))
    except ApiError as exc:
        if exc.status == 404:
            await message.answer(_("This lesson no longer exists."))
        elif exc.status == 409:
            await message.answer(_("This lesson cannot be cancelled now: {detail}").format(detail=exc.detail))
        else:
            raise
        return
    await message.answer(_("Cancelled:") + "\n" + texts.lesson_line(lesson, caller.session.timezone))
