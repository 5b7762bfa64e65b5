"""What the bot remembers (Redis in mesh mode, in-process in embedded mode): each linked chat's key,
the chat's short-lived access token, the update ids seen, and the taps being handled. In embedded
mode the links are also written to a file, so that a restart does not unlink every chat (the user
service keeps only a hash of each key: a lost key means linking again)."""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import anyio

from telegram_bot.gateway import BotSession

TOKEN_MARGIN_SECONDS = 30   # a cached token is dropped this long before it expires


@dataclass(frozen=True)
class ChatLink:
    chat_key: str
    user_id: str
    role: str


class Chats:
    def __init__(self, redis: Any, *, update_ttl: int, prefix: str = "bot:", links_file: Path | None = None) -> None:
        self._redis, self._update_ttl, self._prefix = redis, update_ttl, prefix
        self._links_file = links_file
        self._file_lock = anyio.Lock()

    def _key(self, *parts: object) -> str:
        return self._prefix + ":".join(str(p) for p in parts)

    async def link(self, chat_id: int) -> ChatLink | None:
        raw = await self._redis.get(self._key("chat", chat_id))
        if raw is None and self._links_file is not None:
            raw = (await self._read_file()).get(str(chat_id))
            if raw is not None:
                await self._redis.set(self._key("chat", chat_id), raw)
        return ChatLink(**json.loads(raw)) if raw else None

    async def save(self, chat_id: int, link: ChatLink) -> None:
        raw = json.dumps(asdict(link))
        await self._redis.set(self._key("chat", chat_id), raw)
        await self._redis.delete(self._key("session", chat_id))
        await self._write_file(chat_id, raw)

    async def forget(self, chat_id: int) -> None:
        await self._redis.delete(self._key("chat", chat_id), self._key("session", chat_id))
        await self._write_file(chat_id, None)

    async def _read_file(self) -> dict[str, str]:
        assert self._links_file is not None
        path = anyio.Path(self._links_file)
        return json.loads(await path.read_text()) if await path.exists() else {}

    async def _write_file(self, chat_id: int, raw: str | None) -> None:
        """Rewrite the links file with this chat's link set or removed (whole, then renamed: a
        crash leaves the old file or the new one, never half of one)."""
        if self._links_file is None:
            return
        async with self._file_lock:
            links = await self._read_file()
            if raw is None:
                links.pop(str(chat_id), None)
            else:
                links[str(chat_id)] = raw
            partial = anyio.Path(f"{self._links_file}.partial")
            await partial.parent.mkdir(parents=True, exist_ok=True)
            await partial.write_text(json.dumps(links))
            os.chmod(partial, 0o600)     # the keys act for their users
            await partial.rename(self._links_file)

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
