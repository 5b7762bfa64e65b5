"""`POST /telegram/webhook`: Telegram's updates for the bot in webhook mode. The gateway checks
`X-Telegram-Bot-Api-Secret-Token` (BOT_WEBHOOK_SECRET) and forwards the update to the bot process;
without a secret configured the path does not exist. Not part of the client API document."""
from __future__ import annotations

import hmac

import httpx
from fastapi import APIRouter, Header, Request, Response

from shared.errors import NotFound, ServiceUnavailable, TooLarge, Unauthorized

router = APIRouter()
MAX_UPDATE_BYTES = 1024 * 1024   # an update is a few kilobytes; files come by getFile, not here


@router.post("/telegram/webhook", include_in_schema=False)
async def telegram_webhook(request: Request, x_telegram_bot_api_secret_token: str | None = Header(None)) -> Response:
    settings = request.app.state.settings
    secret = settings.bot_webhook_secret.get_secret_value() if settings.bot_webhook_secret else ""
    if not secret:
        raise NotFound("No webhook here")
    given = x_telegram_bot_api_secret_token or ""
    if not hmac.compare_digest(given.encode(), secret.encode()):
        raise Unauthorized("Wrong X-Telegram-Bot-Api-Secret-Token")
    body = await request.body()
    if len(body) > MAX_UPDATE_BYTES:
        raise TooLarge("An update is not that large")
    try:
        async with httpx.AsyncClient(timeout=settings.upstream_read_timeout) as client:
            answer = await client.post(settings.bot_webhook_upstream.rstrip("/") + "/telegram/webhook",
                                       content=body, headers={"Content-Type": "application/json",
                                                              "X-Telegram-Bot-Api-Secret-Token": given})
    except httpx.HTTPError as exc:   # Telegram delivers the update again later
        raise ServiceUnavailable("The bot is not reachable") from exc
    return Response(content=answer.content, status_code=answer.status_code,
                    media_type=answer.headers.get("content-type"))
