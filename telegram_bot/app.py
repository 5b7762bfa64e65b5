"""Building and running the bot: the Bot (pointed at `TELEGRAM_API_BASE`), the dispatcher with
its middlewares and routers, long polling or a webhook."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import Any

import httpx
from aiogram import Bot, Dispatcher
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n

from telegram_bot.catalogs import DOMAIN, LOCALES_DIR, compile_catalogs
from telegram_bot.chats import Chats
from telegram_bot.commands import set_default_menus
from telegram_bot.gateway import Gateway
from telegram_bot.identity import IdentityMiddleware, unlink_chat
from telegram_bot.middlewares import CorrelationMiddleware, DedupeMiddleware, LocaleMiddleware
from telegram_bot.routers import all_routers
from telegram_bot.settings import BotSettings
from telegram_bot.telegram import BlockedChats, RetryAfter

log = logging.getLogger("repitbot.bot")


@dataclass
class TelegramBot:
    bot: Bot
    dispatcher: Dispatcher
    gateway: Gateway
    chats: Chats

    async def close(self) -> None:
        await self.bot.session.close()
        await self.gateway.http.aclose()
        # the feature routers are module-level (aiogram's idiom) and aiogram attaches a router to
        # one parent for good: let them go, so that another bot of this process can include them
        for router in self.dispatcher.sub_routers:
            router._parent_router = None
        self.dispatcher.sub_routers.clear()


def make_i18n() -> I18n:
    compile_catalogs(LOCALES_DIR)
    return I18n(path=LOCALES_DIR, default_locale="ru", domain=DOMAIN)


def build_bot(settings: BotSettings, http: httpx.AsyncClient, redis: Any) -> TelegramBot:
    """The bot for `settings`, reaching the API with `http` (based at the gateway) and keeping its
    memory in `redis`; FSM dialogues in Redis in mesh mode, in memory in embedded mode."""
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.telegram_api_base.rstrip("/")))
    bot = Bot(settings.token(), session=session)
    gateway = Gateway(http, settings.token())
    links_file = None if settings.mode == "mesh" else settings.var_dir / "bot-chats.json"
    chats = Chats(redis, update_ttl=settings.bot_update_ttl_seconds, links_file=links_file)

    async def on_blocked(chat_id: int) -> None:
        if await unlink_chat(gateway, chats, chat_id, reason="blocked"):
            log.info("chat %s blocked the bot: unlinked", chat_id)

    bot.session.middleware(RetryAfter(settings.bot_request_retries))
    bot.session.middleware(BlockedChats(on_blocked))
    storage: BaseStorage = RedisStorage(redis) if settings.mode == "mesh" else MemoryStorage()
    i18n = make_i18n()
    dp = Dispatcher(storage=storage, gateway=gateway, chats=chats, settings=settings, i18n=i18n)
    dp.update.outer_middleware(CorrelationMiddleware())
    dp.update.outer_middleware(DedupeMiddleware(chats))
    dp.update.outer_middleware(IdentityMiddleware(gateway, chats))
    dp.update.outer_middleware(LocaleMiddleware(i18n))
    dp.include_routers(*all_routers())
    return TelegramBot(bot, dp, gateway, chats)


async def run_polling(app: TelegramBot) -> None:
    """Long polling until cancelled; the menus for chats not linked are set first."""
    await app.bot.delete_webhook(drop_pending_updates=False)
    await set_default_menus(app.bot, app.dispatcher["i18n"])
    await app.dispatcher.start_polling(app.bot, handle_signals=False, close_bot_session=False)


@contextlib.asynccontextmanager
async def polling_in_background(app: TelegramBot):  # type: ignore[no-untyped-def]
    """Poll while the block runs (the embedded platform, tests), then stop and close."""
    task = asyncio.create_task(run_polling(app), name="telegram-bot")
    try:
        yield app
    finally:
        with contextlib.suppress(RuntimeError):
            await app.dispatcher.stop_polling()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await app.close()


async def serve(settings: BotSettings) -> None:
    """`repitbot serve bot`: the bot as its own process, reaching the gateway over HTTP; long
    polling, or a webhook server on BOT_WEBHOOK_PORT (the gateway forwards /telegram/webhook)."""
    from shared.logs import configure_logging
    from shared.redis_factory import make_redis

    configure_logging(settings.log_level, json_output=settings.log_json, process="bot")
    if not settings.configured():
        log.warning("BOT_TOKEN is not set: the Telegram bot is not started")
        return
    http = httpx.AsyncClient(base_url=settings.bot_gateway_url, timeout=settings.bot_timeout_seconds)
    app = build_bot(settings, http, make_redis(settings.redis_url))
    try:
        if settings.bot_run_mode == "webhook":
            from telegram_bot.webhook import serve_webhook
            await serve_webhook(app, settings)
        else:
            log.info("the Telegram bot is polling %s, calling the API at %s", settings.telegram_api_base,
                     settings.bot_gateway_url)
            await run_polling(app)
    finally:
        await app.close()
