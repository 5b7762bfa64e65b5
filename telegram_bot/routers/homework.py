"""Homework: the list (student, parent, teacher); a student hands in text, photos and documents
in one dialogue, sent as one multipart submission; a teacher reviews a submission (its files
forwarded into the chat) and grades it with buttons."""
from __future__ import annotations

import io
import uuid
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot import texts
from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError, Homework, Upload
from telegram_bot.identity import Caller, Linked
from telegram_bot.keyboards import (
    GradeCB,
    HomeworkAction,
    HomeworkCB,
    SubmissionCB,
    grade_keyboard,
    homework_keyboard,
    submission_keyboard,
)
from telegram_bot.routers.lessons import first_tap, names_of

router = Router(name="homework")
router.message.filter(Linked())
router.callback_query.filter(Linked())


class SubmitHomework(StatesGroup):
    collecting = State()


def homework_line(homework: Homework, caller: Caller) -> str:
    due = texts.local(homework.due_at, caller.session.timezone).strftime("%d.%m %H:%M")
    line = f"{homework.title} — " + _("due {due}").format(due=due) + f" — {texts.status_label(homework.status)}"
    if homework.score is not None:
        line += " · " + _("score {score}").format(score=f"{homework.score}/{homework.max_score}")
    return line


@router.message(Command("homework"))
async def homework_list(message: Message, caller: Caller) -> None:
    if caller.role == "teacher":
        found = await caller.api.homework_list("submitted")
        names = await names_of(caller)
        if not found:
            await message.answer(_("Nothing to review."))
        for homework in found:
            await message.answer(homework_line(homework, caller) + f"\n{names.get(homework.student_id, '')}",
                                 reply_markup=homework_keyboard(homework.id, HomeworkAction.REVIEW))
        return
    found = await caller.api.homework_list()
    if not found:
        await message.answer(_("No homework."))
        return
    if caller.role == "parent":
        names = await names_of(caller)
        await message.answer("\n".join(f"{names.get(h.student_id, '')}: {homework_line(h, caller)}" for h in found))
        return
    for homework in found:
        buttons = homework_keyboard(homework.id, HomeworkAction.SUBMIT) if homework.status != "graded" else None
        await message.answer(homework_line(homework, caller), reply_markup=buttons)


@router.callback_query(HomeworkCB.filter(F.action == HomeworkAction.SUBMIT), Linked("student"))
async def start_submission(callback: CallbackQuery, callback_data: HomeworkCB, state: FSMContext) -> None:
    await state.set_state(SubmitHomework.collecting)
    await state.set_data({"homework_id": str(callback_data.homework_id), "text": "", "files": []})
    if isinstance(callback.message, Message):
        await callback.message.answer(_("Send the text, photos and files of your work, in any order. "
                                        "When everything is here, tap “Send”."), reply_markup=submission_keyboard())
    await callback.answer()


@router.message(StateFilter(SubmitHomework.collecting), F.photo | F.document | (F.text & ~F.text.startswith("/")))
async def collect(message: Message, state: FSMContext) -> None:
    data = await state.get_data()
    if message.photo:
        data["files"].append({"file_id": message.photo[-1].file_id, "name": f"photo-{len(data['files']) + 1}.jpg"})
    elif message.document:
        data["files"].append({"file_id": message.document.file_id,
                              "name": message.document.file_name or f"file-{len(data['files']) + 1}"})
    text = message.text or message.caption
    if text:
        data["text"] = "\n\n".join(filter(None, [data["text"], text]))
    await state.set_data(data)
    await message.answer(_("Got it: {files} files, text: {text}.").format(
        files=len(data["files"]), text=_("yes") if data["text"] else _("no")), reply_markup=submission_keyboard())


@router.message(StateFilter(SubmitHomework.collecting), ~F.text)
async def collect_something_else(message: Message) -> None:
    await message.answer(_("Send text, a photo or a file (a document), please."))


@router.callback_query(SubmissionCB.filter(), Linked("student"))
async def finish_submission(callback: CallbackQuery, callback_data: SubmissionCB, caller: Caller,
                            state: FSMContext, bot: Bot, chats: Chats) -> None:
    data = await state.get_data()
    if not data.get("homework_id"):
        await callback.answer(_("This button has expired."), show_alert=True)
        return
    if not callback_data.send:
        await state.clear()
        await callback.answer(_("Dropped."))
        return
    if not data["text"] and not data["files"]:
        await callback.answer(_("Send the text, a photo or a file first."), show_alert=True)
        return
    if (key := await first_tap(callback, chats)) is None:
        return
    files = [await _download(bot, f) for f in data["files"]]
    try:
        homework = await caller.api.submit_homework(uuid.UUID(data["homework_id"]), data["text"] or None, files,
                                                    key=key)
    except ApiError as exc:
        await callback.answer(_homework_problem(exc), show_alert=True)
        if exc.status in (404, 409):
            await state.clear()
        return
    await state.clear()
    await callback.answer(_("Sent."))
    if isinstance(callback.message, Message):
        await callback.message.answer(_("Handed in: {title}").format(title=homework.title))


async def _download(bot: Bot, part: dict[str, Any]) -> Upload:
    buffer = io.BytesIO()
    await bot.download(part["file_id"], destination=buffer)
    name = part["name"]
    content_type = "image/jpeg" if name.endswith(".jpg") else "application/octet-stream"
    return Upload(name=name, content=buffer.getvalue(), content_type=content_type)


def _homework_problem(exc: ApiError) -> str:
    texts_by_status = {404: _("This homework no longer exists."), 409: _("This homework is graded already."),
                       413: _("Too many or too large files."), 415: _("A file of a type that is not accepted."),
                       422: _("The platform refused: {detail}").format(detail=exc.detail)}
    if exc.status not in texts_by_status:
        raise exc
    return texts_by_status[exc.status]


@router.callback_query(HomeworkCB.filter(F.action == HomeworkAction.REVIEW), Linked("teacher"))
async def review(callback: CallbackQuery, callback_data: HomeworkCB, caller: Caller, bot: Bot) -> None:
    try:
        homework = await caller.api.homework(callback_data.homework_id)
    except ApiError as exc:
        await callback.answer(_homework_problem(exc), show_alert=True)
        return
    await callback.answer()
    latest = homework.submissions[-1] if homework.submissions else None
    chat_id = callback.message.chat.id if callback.message else callback.from_user.id
    if latest and latest.text:
        await bot.send_message(chat_id, _("Answer:") + "\n" + latest.text)
    for file in latest.files if latest else []:
        content = await caller.api.homework_file(homework.id, file.id)
        upload = BufferedInputFile(content, filename=file.file_name)
        if file.content_type.startswith("image/"):
            await bot.send_photo(chat_id, upload, caption=file.file_name)
        else:
            await bot.send_document(chat_id, upload, caption=file.file_name)
    await bot.send_message(chat_id, _("The score for “{title}”?").format(title=homework.title),
                           reply_markup=grade_keyboard(homework.id, homework.max_score))


@router.callback_query(GradeCB.filter(), Linked("teacher"))
async def grade(callback: CallbackQuery, callback_data: GradeCB, caller: Caller, chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    try:
        homework = await caller.api.grade_homework(callback_data.homework_id, callback_data.score, None, key=key)
    except ApiError as exc:
        await callback.answer(_homework_problem(exc), show_alert=True)
        return
    await callback.answer(_("Graded."))
    if isinstance(callback.message, Message):
        await callback.message.edit_text(_("Graded: {title}, {score}").format(
            title=homework.title, score=f"{homework.score}/{homework.max_score}"))
