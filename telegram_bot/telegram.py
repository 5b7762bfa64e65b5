"""Telegram's limits: a 429 waited out, a blocked bot noticed, long texts split."""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramForbiddenError, TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.types import Message

from telegram_bot.metrics import TELEGRAM_RETRIES

log = logging.getLogger("repitbot.bot")
MAX_TEXT = 4096


class RetryAfter(BaseRequestMiddleware):
    """A call refused with 429 is made again after the `retry_after` Telegram names, a few times."""

    def __init__(self, retries: int) -> None:
        self.retries = retries

    async def __call__(self, make_request: NextRequestMiddlewareType[Any], bot: Bot,
                       method: TelegramMethod[Any]) -> Any:
        for attempt in range(self.retries + 1):
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                if attempt == self.retries:
                    raise
                TELEGRAM_RETRIES.inc()
                log.info("Telegram asks to wait %s s before %s", exc.retry_after, type(method).__name__)
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")


class BlockedChats(BaseRequestMiddleware):
    """A 403 (the user blocked the bot, or left) unlinks the chat, then the error goes on."""

    def __init__(self, on_blocked: Callable[[int], Awaitable[Any]]) -> None:
        self.on_blocked = on_blocked

    async def __call__(self, make_request: NextRequestMiddlewareType[Any], bot: Bot,
                       method: TelegramMethod[Any]) -> Any:
        try:
            return await make_request(bot, method)
        except TelegramForbiddenError:
            chat_id = getattr(method, "chat_id", None)
            if isinstance(chat_id, int):
                await self.on_blocked(chat_id)
            raise


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Pieces of at most `limit` characters, cut at the last line break, else at the last space
    (the break itself is dropped), else anywhere."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = max(text.rfind("\n", 1, limit + 1), 0) or max(text.rfind(" ", 1, limit + 1), 0)
        if cut:
            pieces.append(text[:cut])
            text = text[cut + 1:]
        else:
            pieces.append(text[:limit])
            text = text[limit:]
    pieces.append(text)
    return pieces


async def answer_long(message: Message, text: str, **kwargs: Any) -> None:
    """Answer with as many messages as the text needs; buttons go with the last one."""
    pieces = split_text(text)
    for piece in pieces[:-1]:
        await message.answer(piece)
    await message.answer(pieces[-1], **kwargs)
