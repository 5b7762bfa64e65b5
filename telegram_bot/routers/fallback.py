"""What nothing else handled: a chat not linked gets the way to link it; a button from an older
message (or another version of the bot) says it has expired."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot.commands import help_text
from telegram_bot.identity import Caller
from telegram_bot.routers.start import not_linked_text
from telegram_bot.settings import BotSettings

router = Router(name="fallback")


@router.message()
async def anything_else(message: Message, caller: Caller | None, settings: BotSettings) -> None:
    if caller is None:
        await message.answer(not_linked_text(settings))
        return
    await message.answer(_("I did not understand that. What I can do:") + "\n" + help_text(caller.role))


@router.callback_query()
async def stale_button(callback: CallbackQuery, caller: Caller | None) -> None:
    text = _("This button has expired.") if caller else _("This chat is not linked: send /start.")
    await callback.answer(text, show_alert=True)
