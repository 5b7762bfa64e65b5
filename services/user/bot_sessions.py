"""Use cases of the Telegram bot's own calls: an access token for a linked chat, and unlinking it.

The bot proves two things: that it is the bot (`X-Bot-Token`, checked by the route) and that it
holds the chat key it was given when the chat was linked. A chat id is no secret (it shows in
forwarded messages and group member lists); the key never leaves the bot and the user service
keeps only its hash. Both failures get the same 401, so the answer tells nothing about a chat."""
from __future__ import annotations

import hmac
from datetime import timedelta

from sqlalchemy import select

from services.user import domain, keys
from services.user.metrics import BOT_SESSIONS
from services.user.models import User
from services.user.schemas import BotSession
from shared.db import UnitOfWork
from shared.errors import Unauthorized
from shared.events import UserUpdated, utcnow

NOT_LINKED = "This chat is not linked to an account, or the chat key is wrong"


async def _linked_user(uow: UnitOfWork, chat_id: int, chat_key: str) -> User:
    user = await uow.session.scalar(select(User).where(User.telegram_chat_id == chat_id))
    expected = user.telegram_key_hash if user is not None and user.telegram_key_hash else "-" * 64
    matches = hmac.compare_digest(domain.secret_hash(chat_key), expected)
    if user is None or not matches or user.deactivated_at is not None:
        raise Unauthorized(NOT_LINKED)
    return user


async def issue_bot_session(uow: UnitOfWork, tokens: keys.Tokens, *, chat_id: int, chat_key: str,
                            ttl: timedelta) -> BotSession:
    """A short-lived access token (no refresh token) for the user the chat is linked to."""
    signer = await tokens.signer()
    async with uow.read_only():
        try:
            user = await _linked_user(uow, chat_id, chat_key)
        except Unauthorized:
            BOT_SESSIONS.labels("refused").inc()
            raise
    token = keys.sign_access_token(signer, user_id=user.id, role=user.role, issuer=tokens.issuer,
                                   audience=tokens.audience, ttl=ttl, now=utcnow())
    BOT_SESSIONS.labels("issued").inc()
    return BotSession(access_token=token.token, expires_in=int(ttl.total_seconds()), user_id=user.id,
                      full_name=user.full_name, role=user.role, locale=user.locale,  # type: ignore[arg-type]
                      timezone=user.timezone)


async def unlink_chat(uow: UnitOfWork, *, chat_id: int, chat_key: str) -> None:
    """Forget the chat (the user's /logout, or Telegram saying the user blocked the bot)."""
    async with uow:
        user = await _linked_user(uow, chat_id, chat_key)
        user.telegram_chat_id = user.telegram_key_hash = None
        uow.emit(UserUpdated(user_id=user.id, changed={"telegram_linked": False}))
        await uow.commit()
    BOT_SESSIONS.labels("unlinked").inc()
