"""Embedded mode: the gateway and all nine services in one process, no servers needed."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from repitbot.services import service_module
from shared import tracing
from shared.logs import configure_logging
from shared.runtime import make_runtime, tune_gc
from shared.settings import SERVICE_NAMES, Settings

log = logging.getLogger("repitbot")


def create_embedded_app(settings: Settings, *, seed: bool = True, host: str = "127.0.0.1",
                        port: int = 8000) -> FastAPI:
    from api_gateway.app import create_app as create_gateway

    configure_logging(settings.log_level, json_output=settings.log_json)
    tracing.configure(settings)
    runtime = make_runtime(settings)
    services = {}
    for name in SERVICE_NAMES:
        module = service_module(name)
        services[name] = module.create_app(module.SPEC.settings_from(settings), runtime)
    runtime.transports.update({name: httpx.ASGITransport(app) for name, app in services.items()})
    gateway = create_gateway(runtime=runtime)
    gateway_lifespan = gateway.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            for service in services.values():
                await stack.enter_async_context(service.router.lifespan_context(service))
            await stack.enter_async_context(gateway_lifespan(app))
            stack.callback(tracing.shutdown)
            stack.push_async_callback(runtime.close)
            await _start_bot(stack, settings, gateway)
            if seed:
                from services.user.seed import seed_demo
                lines = await seed_demo(services["user"].state.uow_factory, services["user"].state.deps.passwords)
                _banner(host, port, lines)
            tune_gc()
            yield

    gateway.router.lifespan_context = lifespan
    gateway.state.service_apps = services
    gateway.state.runtime = runtime
    return gateway


async def _start_bot(stack: contextlib.AsyncExitStack, settings: Settings, gateway: FastAPI) -> None:
    """The Telegram bot in long polling, calling the gateway in-process, when BOT_TOKEN is set."""
    if not (settings.bot_token and settings.bot_token.get_secret_value()):
        log.info("BOT_TOKEN is not set: the Telegram bot is not started")
        return
    from shared.redis_factory import make_redis
    from telegram_bot.app import build_bot, polling_in_background
    from telegram_bot.settings import BotSettings

    bot_settings = BotSettings(**{name: getattr(settings, name) for name in Settings.model_fields})
    http = httpx.AsyncClient(transport=httpx.ASGITransport(gateway), base_url="http://gateway",
                             timeout=bot_settings.bot_timeout_seconds)
    await stack.enter_async_context(polling_in_background(build_bot(bot_settings, http, make_redis(None))))
    log.info("the Telegram bot is polling %s", bot_settings.telegram_api_base)


def _banner(host: str, port: int, accounts: list[str]) -> None:
    base = f"http://{host}:{port}"
    text = "\n".join([
        "", "RepitBot is running in embedded mode",
        f"  API:      {base}    docs: {base}/docs",
        f"  health:   {base}/health    metrics: {base}/gateway/metrics",
        "  demo accounts:", *(f"    {line}" for line in accounts), ""])
    print(text, flush=True)
