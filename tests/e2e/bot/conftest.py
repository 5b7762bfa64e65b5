"""The embedded platform with its Telegram bot polling a local fake Bot API."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from shared.settings import Settings
from tests.e2e.conftest import Account, register_and_login
from tests.support import running
from tests.telegram_fake import BOT_TOKEN, FakeTelegram, Sent


@dataclass
class Chat:
    """A person's Telegram chat with the bot."""

    telegram: FakeTelegram
    chat_id: int
    language: str = "ru"

    def say(self, text: str) -> dict:
        return self.telegram.say(self.chat_id, text, language=self.language)

    def tap(self, message: Sent, label: str) -> dict:
        return self.telegram.tap(self.chat_id, message, label, language=self.language)

    async def reply(self, containing: str, *, after: int = 0) -> Sent:
        return await self.telegram.reply_to(self.chat_id, containing=containing, after=after)

    async def ask(self, text: str, expect: str) -> Sent:
        """Say something and wait for the answer that contains `expect`."""
        mark = self.telegram.last_id()
        self.say(text)
        return await self.reply(expect, after=mark)


@dataclass
class BotPlatform:
    client: httpx.AsyncClient
    telegram: FakeTelegram

    async def linked_chat(self, account: Account, *, language: str = "ru") -> Chat:
        """The account's chat, linked by the deep link of its profile."""
        made = await self.client.post("/api/v1/users/me/telegram-link", headers=account.headers)
        assert made.status_code == 201, made.text
        chat = Chat(self.telegram, int(uuid.uuid4().int % 10**9) + 1000, language)
        token = made.json()["telegram_url"].rsplit("start=", 1)[1]
        await chat.ask(f"/start {token}", "/logout")
        return chat

    async def account(self, role: str, name: str | None = None, **kwargs: object) -> Account:
        return await register_and_login(self.client, role, full_name=name, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
async def bot_platform(tmp_path_factory) -> AsyncIterator[BotPlatform]:
    """The embedded platform started with BOT_TOKEN (one for the module: every test uses new
    accounts and chats): its bot polls the fake Bot API, which the notification service sends to too."""
    from repitbot.embedded import create_embedded_app

    async with FakeTelegram(BOT_TOKEN) as telegram:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("TELEGRAM_API_BASE", telegram.url)
            env.setenv("AUTH_RATE_LIMIT_PER_MINUTE", "1000")   # every test registers a few accounts
            app = create_embedded_app(Settings(var_dir=tmp_path_factory.mktemp("bot"), log_json=True,
                                               bot_token=BOT_TOKEN, bot_username="RepitTestBot"), seed=False)
            async with running(app) as client:
                client.app = app  # type: ignore[attr-defined]
                yield BotPlatform(client, telegram)
