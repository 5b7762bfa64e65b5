"""A student's progress (level, XP bar, streak, achievements) and the week's leaderboard."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, Message

from telegram_bot import texts
from telegram_bot.gateway import ApiError
from telegram_bot.identity import Caller, Linked

router = Router(name="progress")
router.message.filter(Linked())


@router.message(Command("progress"), Linked("student"))
async def progress(message: Message, caller: Caller) -> None:
    await message.answer(texts.progress(await caller.api.profile(caller.user_id)))
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
