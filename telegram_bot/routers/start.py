"""Linking a chat: `/start <token>` (a deep link from the profile), `/start invite_<code>`
(a teacher's or a student's invite), `/help` and `/logout`."""
from __future__ import annotations

from aiogram import Bot, Router
from aiogram.filters import Command, CommandObject, CommandStart
from aiogram.types import Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from telegram_bot.chats import ChatLink, Chats
from telegram_bot.commands import help_text, set_chat_menu
from telegram_bot.gateway import ApiError, Gateway
from telegram_bot.identity import Caller, resolve_caller, unlink_chat
from telegram_bot.middlewares import locale_of
from telegram_bot.settings import BotSettings

router = Router(name="start")
INVITE_PREFIX = "invite_"


def not_linked_text(settings: BotSettings) -> str:
    return _("This chat is not linked to a RepitBot account yet. Sign up at {url}, then open "
             "“Link Telegram” in your profile: the link brings you back here.").format(
        url=settings.public_base_url)


@router.message(CommandStart(deep_link=True))
async def start_with_link(message: Message, command: CommandObject, caller: Caller | None, gateway: Gateway,
                          chats: Chats, bot: Bot, i18n: I18n, settings: BotSettings) -> None:
    argument = (command.args or "").strip()
    if argument.startswith(INVITE_PREFIX):
        await accept_invite(message, argument.removeprefix(INVITE_PREFIX), caller, settings)
        return
    try:
        linked = await gateway.link(argument, message.chat.id)
    except ApiError as exc:
        if exc.status in (404, 422):
            await message.answer(_("This link is unknown. Make a new one in your profile."))
            return
        if exc.status == 409:
            await message.answer(_("This link was used already or has expired. Make a new one in your profile."))
            return
        raise
    await chats.save(message.chat.id, ChatLink(linked.chat_key, str(linked.user_id), linked.role))
    caller = await resolve_caller(gateway, chats, message.chat.id)
    with i18n.use_locale(locale_of(caller, message.from_user)):
        await set_chat_menu(bot, message.chat.id, linked.role)
        await message.answer(_("Hello, {name}! This chat is now linked to your account.").format(
            name=linked.full_name) + "\n\n" + help_text(linked.role))


async def accept_invite(message: Message, code: str, caller: Caller | None, settings: BotSettings) -> None:
    if caller is None:
        await message.answer(_("You were invited to RepitBot. First link this chat to your account, "
                               "then open the invite link again.") + "\n\n" + not_linked_text(settings))
        return
    try:
        result = await caller.api.accept_invite(code)
    except ApiError as exc:
        texts = {403: _("This invite is for someone with another role."), 404: _("This invite is unknown."),
                 409: _("This invite has expired or was used already; ask for a new one."),
                 422: _("This invite is unknown.")}
        if exc.status not in texts:
            raise
        await message.answer(texts[exc.status])
        return
    if result.kind == "teacher":
        text = _("You are now linked to your teacher.") if result.created else _("You were linked to this teacher already.")
    else:
        text = _("You are now linked to your child.") if result.created else _("You were linked already.")
    await message.answer(text)


@router.message(CommandStart())
async def start(message: Message, caller: Caller | None, settings: BotSettings) -> None:
    if caller is None:
        await message.answer(not_linked_text(settings))
        return
    await message.answer(_("Hello, {name}!").format(name=caller.session.full_name) + "\n\n" + help_text(caller.role))


@router.message(Command("help"))
async def help_command(message: Message, caller: Caller | None, settings: BotSettings) -> None:
    if caller is None:
        await message.answer(not_linked_text(settings) + "\n\n" + help_text(None))
        return
    await message.answer(help_text(caller.role))


@router.message(Command("logout"))
async def logout(message: Message, gateway: Gateway, chats: Chats, bot: Bot, settings: BotSettings) -> None:
    if not await unlink_chat(gateway, chats, message.chat.id, reason="logout"):
        await message.answer(not_linked_text(settings))
        return
    await set_chat_menu(bot, message.chat.id, None)
    await message.answer(_("Done: this chat is no longer linked to your account. Open a new link "
                           "from your profile to link it again."))
