"""The one error handler: log with the update id and the correlation ID of the API calls the
update caused, count it, and tell the user in a word instead of staying silent."""
from __future__ import annotations

import logging
from typing import Any

from aiogram import Router
from aiogram.types import ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from shared import context
from telegram_bot.gateway import ApiError
from telegram_bot.metrics import UPDATES
from telegram_bot.middlewares import locale_of

log = logging.getLogger("repitbot.bot")
router = Router(name="errors")


@router.errors()
async def on_error(event: ErrorEvent, i18n: I18n | None = None, **data: Any) -> bool:
    update, exc = event.update, event.exception
    UPDATES.labels("failed").inc()
    log.error("update %s failed: %s: %s", update.update_id, type(exc).__name__, exc,
              exc_info=not isinstance(exc, ApiError),
              extra={"update_id": update.update_id, "correlation_id": context.correlation_id.get()})
    if i18n is None:
        return True
    with i18n.context(), i18n.use_locale(locale_of(data.get("caller"), data.get("event_from_user"))):
        text = (_("The platform is not answering right now; please try again in a minute.")
                if isinstance(exc, ApiError) and exc.status in (0, 502, 503, 504)
                else _("Something went wrong; it has been logged. Please try again."))
        await _tell(update, text)
    return True


async def _tell(update: Any, text: str) -> None:
    try:
        if update.callback_query is not None:
            await update.callback_query.answer(text, show_alert=True)
        elif update.message is not None:
            await update.message.answer(text)
    except Exception:    # the error handler must not fail in turn (Telegram away, chat blocked)
        log.warning("could not tell the user about the failed update %s", update.update_id)
