"""What the bot remembers (Redis in mesh mode, in-process in embedded mode): each linked chat's key,
the chat's short-lived access token, the update ids seen, and the taps being handled."""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from telegram_bot.gateway import BotSession

TOKEN_MARGIN_SECONDS = 30   # a cached token is dropped this long before it expires


@dataclass(frozen=True)
class ChatLink:
    chat_key: str
    user_id: str
    role: str


class Chats:
    def __init__(self, redis: Any, *, update_ttl: int, prefix: str = "bot:") -> None:
        self._redis, self._update_ttl, self._prefix = redis, update_ttl, prefix

    def _key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(p) for p in parts)

    async def link(self, chat_id: int) -> ChatLink | None:
        raw = await self._redis.get(self._key("chat", chat_id))
        return ChatLink(**json.loads(raw)) if raw else None

    async def save(self, chat_id: int, link: ChatLink) -> None:
        await self._redis.set(self._key("chat", chat_id), json.dumps(asdict(link)))
        await self._redis.delete(self._key("session", chat_id))

    async def forget(self, chat_id: int) -> None:
        await self._redis.delete(self._key("chat", chat_id), self._key("session", chat_id))

    async def session(self, chat_id: int) -> BotSession | None:
        raw = await self._redis.get(self._key("session", chat_id))
        return BotSession.model_validate_json(raw) if raw else None

    async def keep_session(self, chat_id: int, session: BotSession) -> None:
        ttl = session.expires_in - TOKEN_MARGIN_SECONDS
        if ttl > 0:
            await self._redis.set(self._key("session", chat_id), session.model_dump_json(), ex=ttl)

    async def first_delivery(self, update_id: int) -> bool:
        """True the first time an update id is seen (Telegram may deliver an update again)."""
        return bool(await self._redis.set(self._key("update", update_id), "1", nx=True, ex=self._update_ttl))

    async def claim_tap(self, tap: str, *, seconds: int = 30) -> bool:
        """True for the first tap on one button of one message while it is being handled."""
        return bool(await self._redis.set(self._key("tap", tap), "1", nx=True, ex=seconds))
