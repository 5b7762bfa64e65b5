"""A student's progress (level, XP bar, streak, achievements) and the week's leaderboard."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from telegram_bot import texts
from telegram_bot.identity import Caller, Linked

router = Router(name="progress")
router.message.filter(Linked())


@router.message(Command("progress"), Linked("student"))
async def progress(message: Message, caller: Caller) -> None:
    await message.answer(texts.progress(await caller.api.profile(caller.user_id)))


@router.message(Command("leaderboard"))
async def leaderboard(message: Message, caller: Caller) -> None:
    await message.answer(texts.leaderboard(await caller.api.leaderboard("week")))
