"""The bot acts for the person whose private chat it is. In a group every member would act as
whoever linked it, so a group gets one answer to a command and nothing else; a tap whose sender
is not the chat's own person (a message passed on, an update forged) is refused."""
from __future__ import annotations

from aiogram import Router
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot.identity import own_chat

router = Router(name="private")


def not_own_chat(event: Message | CallbackQuery) -> bool:
    """True unless the event comes from the one person of a private chat."""
    message = event if isinstance(event, Message) else event.message
    return message is None or not own_chat(message.chat, event.from_user)


@router.message(not_own_chat)
async def not_in_private(message: Message) -> None:
    if (message.text or "").startswith("/"):
        await message.answer(_("I work only in a private chat: write to me directly."))


@router.callback_query(not_own_chat)
async def not_yours(callback: CallbackQuery) -> None:
    await callback.answer(_("This button is not yours."), show_alert=True)
