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


class HomeworkAction(str, Enum):
    SUBMIT = "submit"
    REVIEW = "review"


class HomeworkCB(CallbackData, prefix="hw"):
    action: HomeworkAction
    homework_id: uuid.UUID


class SubmissionCB(CallbackData, prefix="hws"):
    """The buttons of the submission dialogue: send what was collected, or drop it."""

    send: bool


class GradeCB(CallbackData, prefix="hwg"):
    homework_id: uuid.UUID
    score: int


def homework_keyboard(homework_id: uuid.UUID, action: HomeworkAction) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    label = _("📤 Submit") if action is HomeworkAction.SUBMIT else _("📝 Review")
    kb.button(text=label, callback_data=HomeworkCB(action=action, homework_id=homework_id))
    return kb.as_markup()


def submission_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Send"), callback_data=SubmissionCB(send=True))
    kb.button(text=_("Drop it"), callback_data=SubmissionCB(send=False))
    return kb.as_markup()


def grade_keyboard(homework_id: uuid.UUID, max_score: int) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for share in (100, 90, 80, 70, 60, 50):
        score = max_score * share // 100
        kb.button(text=str(score), callback_data=GradeCB(homework_id=homework_id, score=score))
    kb.adjust(3, 3)
    return kb.as_markup()


RATINGS = ("again", "hard", "good", "easy")


class CardCB(CallbackData, prefix="crd"):
    """A word card: `rating` empty shows the answer; one of RATINGS rates the recall."""

    card_id: uuid.UUID
    rating: str = ""


def reveal_keyboard(card_id: uuid.UUID) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Show the answer"), callback_data=CardCB(card_id=card_id))
    return kb.as_markup()


def rating_keyboard(card_id: uuid.UUID) -> InlineKeyboardMarkup:
    labels = {"again": _("Again"), "hard": _("Hard"), "good": _("Good"), "easy": _("Easy")}
    kb = InlineKeyboardBuilder()
    for rating in RATINGS:
        kb.button(text=labels[rating], callback_data=CardCB(card_id=card_id, rating=rating))
    kb.adjust(4)
    return kb.as_markup()


class TopUpCB(CallbackData, prefix="top"):
    amount: int                    # minor units
    student_id: uuid.UUID | None = None


def top_up_keyboard(currency: str, student_id: uuid.UUID | None = None) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for amount in (100_000, 300_000, 500_000):
        kb.button(text=f"+{amount // 100} {currency}", callback_data=TopUpCB(amount=amount, student_id=student_id))
    return kb.as_markup()


class AssignCB(CallbackData, prefix="asg"):
    """The teacher's assignment dialogue: the student chosen, then the days until it is due."""

    student_id: uuid.UUID | None = None
    days: int = 0


def students_keyboard(students: list) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    for student in students:
        kb.button(text=student.full_name, callback_data=AssignCB(student_id=student.id))
    kb.adjust(1)
    return kb.as_markup()


def due_keyboard() -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    kb.button(text=_("Tomorrow"), callback_data=AssignCB(days=1))
    kb.button(text=_("In 3 days"), callback_data=AssignCB(days=3))
    kb.button(text=_("In a week"), callback_data=AssignCB(days=7))
    return kb.as_markup()
