"""Webhook mode: Telegram posts updates to the gateway's `/telegram/webhook`, which forwards them
here; aiogram's handler checks `X-Telegram-Bot-Api-Secret-Token` against BOT_WEBHOOK_SECRET."""
from __future__ import annotations

import asyncio
import logging

from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web

from telegram_bot.app import TelegramBot
from telegram_bot.commands import set_default_menus
from telegram_bot.settings import BotSettings

log = logging.getLogger("repitbot.bot")
WEBHOOK_PATH = "/telegram/webhook"


def webhook_app(app: TelegramBot, secret: str) -> web.Application:
    web_app = web.Application()
    SimpleRequestHandler(app.dispatcher, app.bot, secret_token=secret).register(web_app, path=WEBHOOK_PATH)
    setup_application(web_app, app.dispatcher, bot=app.bot)
    return web_app


async def serve_webhook(app: TelegramBot, settings: BotSettings) -> None:
    """Register the webhook with Telegram (at PUBLIC_BASE_URL) and serve it until cancelled."""
    if not settings.bot_webhook_secret:
        raise SystemExit("BOT_RUN_MODE=webhook needs BOT_WEBHOOK_SECRET")
    secret = settings.bot_webhook_secret.get_secret_value()
    url = settings.public_base_url.rstrip("/") + WEBHOOK_PATH
    await app.bot.set_webhook(url, secret_token=secret, drop_pending_updates=False)
    await set_default_menus(app.bot, app.dispatcher["i18n"])
    runner = web.AppRunner(webhook_app(app, secret))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", settings.bot_webhook_port).start()
    log.info("the Telegram bot takes updates at %s (served on port %s)", url, settings.bot_webhook_port)
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()
