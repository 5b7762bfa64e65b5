"""Update middlewares, outermost first: one correlation ID per update, repeated updates dropped,
then (identity.py) the caller, then the caller's language."""
from __future__ import annotations

import logging
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, Update, User
from aiogram.utils.i18n import I18nMiddleware

from shared import context
from telegram_bot.chats import Chats
from telegram_bot.metrics import UPDATES

log = logging.getLogger("repitbot.bot")
LOCALES = ("ru", "en")


class CorrelationMiddleware(BaseMiddleware):
    """Every API call an update causes carries one correlation ID, and so does every log line."""

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        token = context.correlation_id.set(context.new_correlation_id())
        try:
            return await handler(event, data)
        finally:
            context.correlation_id.reset(token)


class DedupeMiddleware(BaseMiddleware):
    """An update Telegram delivers again (a webhook retried, polling restarted) is handled once."""

    def __init__(self, chats: Chats) -> None:
        self.chats = chats

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        assert isinstance(event, Update)
        if not await self.chats.first_delivery(event.update_id):
            UPDATES.labels("duplicate").inc()
            log.info("update %s delivered again: skipped", event.update_id, extra={"update_id": event.update_id})
            return None
        result = await handler(event, data)
        UPDATES.labels("handled").inc()
        return result


def locale_of(caller: Any, user: User | None) -> str:
    """The account's language, else Telegram's `language_code`, else Russian."""
    if caller is not None and caller.session.locale in LOCALES:
        return str(caller.session.locale)
    code = (user.language_code or "")[:2] if user else ""
    return code if code in LOCALES else "ru"


class LocaleMiddleware(I18nMiddleware):
    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        return locale_of(data.get("caller"), data.get("event_from_user"))
