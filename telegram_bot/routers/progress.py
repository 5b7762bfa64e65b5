"""A student's progress (level, XP bar, streak, achievements) and the week's leaderboard."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot import texts
from telegram_bot.gateway import ApiError
from telegram_bot.identity import Caller, Linked

router = Router(name="progress")
NEW_ACHIEVEMENTS = timedelta(days=7)   # achievements this recent are named under the progress
router.message.filter(Linked())


@router.message(Command("progress"), Linked("student"))
async def progress(message: Message, caller: Caller) -> None:
    recent = [a.title for a in await caller.api.achievements(caller.user_id)
              if a.earned_at and a.earned_at > datetime.now(UTC) - NEW_ACHIEVEMENTS]
    text = texts.progress(await caller.api.profile(caller.user_id))
    await message.answer(text + ("\n" + _("New: {titles}").format(titles=", ".join(recent)) if recent else ""))
    try:
        chart = await caller.api.progress_chart(caller.user_id)
    except ApiError as exc:
        if exc.status not in (404, 422, 503):
            raise
        return
    await message.answer_photo(BufferedInputFile(chart, filename="progress.png"))


@router.message(Command("leaderboard"))
async def leaderboard(message: Message, caller: Caller) -> None:
    await message.answer(texts.leaderboard(await caller.api.leaderboard("week")))
