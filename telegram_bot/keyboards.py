"""Typed callback data of the bot's buttons, and the keyboards that carry them."""
from __future__ import annotations

import uuid
from enum import Enum

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from telegram_bot.gateway import Lesson

SCORES = (100, 90, 80, 70, 60, 50)
NO_SCORE = -1


class Period(str, Enum):
    TODAY = "today"
    WEEK = "week"


class ScheduleCB(CallbackData, prefix="sch"):
    period: Period


class LessonAction(str, Enum):
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"


class LessonCB(CallbackData, prefix="les"):
    action: LessonAction
    lesson_id: uuid.UUID


class ScoreCB(CallbackData, prefix="scr"):
    lesson_id: uuid.UUID
    score: int


class AttendanceCB(CallbackData, prefix="att"):
    lesson_id: uuid.UUID
    score: int
    attended: bool


class OpenLessonCB(CallbackData, prefix="open_lesson"):
    """The button under the notification service's lesson reminder (its template writes it)."""

    lesson_id: uuid.UUID


class CancelReasonCB(CallbackData, prefix="cnr"):
    lesson_id: uuid.UUID


def schedule_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Today"), callback_data=ScheduleCB(period=Period.TODAY))
    kb.button(text=_("This week"), callback_data=ScheduleCB(period=Period.WEEK))
    return kb.as_markup()


def lesson_keyboard(lesson: Lesson) -> InlineKeyboardMarkup | None:
    """The teacher's buttons for a lesson in its present state (none once it is over)."""
    kb = InlineKeyboardBuilder()
    if lesson.status == "scheduled":
        kb.button(text=_("▶ Start"), callback_data=LessonCB(action=LessonAction.START, lesson_id=lesson.id))
    if lesson.status in ("scheduled", "in_progress"):
        kb.button(text=_("✅ Complete"), callback_data=LessonCB(action=LessonAction.COMPLETE, lesson_id=lesson.id))
        kb.button(text=_("✖ Cancel"), callback_data=LessonCB(action=LessonAction.CANCEL, lesson_id=lesson.id))
    return kb.as_markup() if kb.buttons else None


def score_keyboard(lesson_id: uuid.UUID) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for score in SCORES:
        kb.button(text=str(score), callback_data=ScoreCB(lesson_id=lesson_id, score=score))
    kb.button(text=_("No score"), callback_data=ScoreCB(lesson_id=lesson_id, score=NO_SCORE))
    kb.adjust(3, 3, 1)
    return kb.as_markup()


def attendance_keyboard(lesson_id: uuid.UUID, score: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Attended"), callback_data=AttendanceCB(lesson_id=lesson_id, score=score, attended=True))
    kb.button(text=_("Absent"), callback_data=AttendanceCB(lesson_id=lesson_id, score=score, attended=False))
    return kb.as_markup()


def cancel_reason_keyboard(lesson_id: uuid.UUID) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Cancel without a reason"), callback_data=CancelReasonCB(lesson_id=lesson_id))
    return kb.as_markup()
