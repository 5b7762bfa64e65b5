"""Webhook mode: Telegram posts to the gateway's /telegram/webhook, which checks Telegram's secret
header and forwards the update to the bot's webhook server, which handles it."""
from __future__ import annotations

import socket

import httpx
from aiohttp import web

from api_gateway.app import create_app
from api_gateway.settings import GatewaySettings
from shared.redis_factory import make_redis
from telegram_bot.app import build_bot
from telegram_bot.settings import BotSettings
from telegram_bot.webhook import webhook_app
from tests.e2e.bot.conftest import BOT_TOKEN
from tests.support import running
from tests.telegram_fake import FakeTelegram

SECRET = "webhook-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_the_gateway_checks_telegrams_secret_and_forwards_the_update_to_the_bot(tmp_path):
    async with FakeTelegram(BOT_TOKEN) as telegram:
        settings = BotSettings(bot_token=BOT_TOKEN, telegram_api_base=telegram.url, var_dir=tmp_path)
        bot = build_bot(settings, httpx.AsyncClient(base_url="http://127.0.0.1:9"), make_redis(None))
        runner, port = web.AppRunner(webhook_app(bot, SECRET)), _free_port()
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        gateway = create_app(GatewaySettings(var_dir=tmp_path, bot_webhook_secret=SECRET,
                                             bot_webhook_upstream=f"http://127.0.0.1:{port}"))
        try:
            async with running(gateway) as client:
                update = telegram.say(555_000_100, "/start", language="en")
                for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "guess"}):
                    refused = await client.post("/telegram/webhook", json=update, headers=headers)
                    assert refused.status_code == 401
                    assert refused.headers["content-type"] == "application/problem+json"
                taken = await client.post("/telegram/webhook", json=update,
                                          headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
                assert taken.status_code == 200, taken.text
                await telegram.reply_to(555_000_100, containing="This chat is not linked")
        finally:
            await runner.cleanup()
            await bot.close()

    async with running(create_app(GatewaySettings(var_dir=tmp_path))) as client:
        absent = await client.post("/telegram/webhook", json={"update_id": 1},
                                   headers={"X-Telegram-Bot-Api-Secret-Token": ""})
        assert absent.status_code == 404
