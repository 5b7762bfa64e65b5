"""The command menu (`set_my_commands`): one for chats not linked, one per role for a linked chat."""
from __future__ import annotations

from aiogram import Bot
from aiogram.types import BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

MENUS: dict[str, tuple[str, ...]] = {
    "student": ("schedule", "homework", "words", "progress", "balance", "leaderboard", "parent_invite", "logout"),
    "parent": ("children", "schedule", "homework", "balance", "logout"),
    "teacher": ("today", "schedule", "homework", "assign", "students", "invite", "logout"),
    "admin": ("logout",),
    None: ("start", "help"),   # type: ignore[dict-item]
}


def descriptions() -> dict[str, str]:
    return {"start": _("Link this chat or open the menu"), "help": _("What I can do"),
            "schedule": _("Lessons today and this week"), "progress": _("Level, XP and streak"),
            "leaderboard": _("The week's leaderboard"), "parent_invite": _("An invite link for a parent"),
            "children": _("Your children's progress"), "today": _("Today's lessons"),
            "students": _("Your students"), "invite": _("An invite link for a new student"),
            "logout": _("Unlink this chat"), "homework": _("Homework"),
            "words": _("Review words"), "assign": _("Assign homework"), "balance": _("Balance and top-up")}


def menu(role: str | None) -> list[BotCommand]:
    texts = descriptions()
    return [BotCommand(command=name, description=texts[name]) for name in MENUS.get(role, MENUS[None])]  # type: ignore[index]


async def set_default_menus(bot: Bot, i18n: I18n) -> None:
    """The menu of chats not linked, in each language Telegram may show."""
    for locale in i18n.available_locales:
        with i18n.context(), i18n.use_locale(locale):
            await bot.set_my_commands(menu(None), scope=BotCommandScopeDefault(), language_code=locale)
    with i18n.context(), i18n.use_locale(i18n.default_locale):
        await bot.set_my_commands(menu(None), scope=BotCommandScopeDefault())


async def set_chat_menu(bot: Bot, chat_id: int, role: str | None) -> None:
    """The chat's menu for its role, in the current language (None: the default menu again)."""
    scope = BotCommandScopeChat(chat_id=chat_id)
    if role is None:
        await bot.delete_my_commands(scope=scope)
    else:
        await bot.set_my_commands(menu(role), scope=scope)


def help_text(role: str | None) -> str:
    texts = descriptions()
    return "\n".join(f"/{name} — {texts[name]}" for name in MENUS.get(role, MENUS[None]))  # type: ignore[index]
