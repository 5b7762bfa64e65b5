"""Who is writing: the account a chat is linked to, as a `Caller` handlers receive by name."""
from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware
from aiogram.enums import ChatType
from aiogram.filters import Filter
from aiogram.types import Chat, TelegramObject, User

from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError, BotSession, Gateway, UserApi
from telegram_bot.metrics import UNLINKED

log = logging.getLogger("repitbot.bot")


@dataclass(frozen=True)
class Caller:
    chat_id: int
    session: BotSession
    api: UserApi

    @property
    def role(self) -> str:
        return self.session.role

    @property
    def user_id(self) -> uuid.UUID:
        return self.session.user_id


async def resolve_caller(gateway: Gateway, chats: Chats, chat_id: int) -> Caller | None:
    """The caller of a linked chat, with a short-lived token (cached until shortly before it expires).
    A chat the user service no longer knows (linked elsewhere, account gone) is forgotten here too."""
    link = await chats.link(chat_id)
    if link is None:
        return None
    session = await chats.session(chat_id)
    if session is None:
        try:
            session = await gateway.bot_session(chat_id, link.chat_key)
        except ApiError as exc:
            if exc.status != 401:
                raise
            await chats.forget(chat_id)
            UNLINKED.labels("refused").inc()
            log.info("chat %s is no longer linked on the platform", chat_id)
            return None
        await chats.keep_session(chat_id, session)
    return Caller(chat_id, session, gateway.as_user(session.access_token))


async def unlink_chat(gateway: Gateway, chats: Chats, chat_id: int, *, reason: str) -> bool:
    """Unlink the chat on the platform and here; False when it was not linked."""
    link = await chats.link(chat_id)
    if link is None:
        return False
    try:
        await gateway.unlink(chat_id, link.chat_key)
    except ApiError as exc:
        if exc.status != 401:     # 401: the platform had forgotten it already
            raise
    await chats.forget(chat_id)
    UNLINKED.labels(reason).inc()
    return True


def own_chat(chat: Chat, user: User | None) -> bool:
    """The update comes from the one person of a private chat: the only chat the bot acts for."""
    return chat.type == ChatType.PRIVATE and user is not None and user.id == chat.id


class IdentityMiddleware(BaseMiddleware):
    """Puts `caller` (a `Caller`, or None for a chat not linked) into the handler's data. Only the
    person of a private chat is ever its caller (`routers/private.py` answers the rest)."""

    def __init__(self, gateway: Gateway, chats: Chats) -> None:
        self.gateway, self.chats = gateway, chats

    async def __call__(self, handler: Any, event: TelegramObject, data: dict[str, Any]) -> Any:
        chat: Chat | None = data.get("event_chat")
        own = chat is not None and own_chat(chat, data.get("event_from_user"))
        data["caller"] = await resolve_caller(self.gateway, self.chats, chat.id) if own and chat else None
        return await handler(event, data)


class Linked(Filter):
    """Passes for a linked chat (of one of `roles`, when given)."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles

    async def __call__(self, event: TelegramObject, caller: Caller | None = None) -> bool:
        return caller is not None and (not self.roles or caller.role in self.roles)


def tap_key(chat_id: int, message_id: int, data: str) -> str:
    """The idempotency key of one button of one message: tapping it again sends the same key."""
    return hashlib.sha256(f"tg:{chat_id}:{message_id}:{data}".encode()).hexdigest()[:40]
