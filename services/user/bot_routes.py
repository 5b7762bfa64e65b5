"""HTTP routes only the Telegram bot calls (header `X-Bot-Token`): a linked chat's access token,
and unlinking a chat. Linking itself is `POST /api/v1/telegram/link` (api.py)."""
from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Depends, Response

from services.user import bot_sessions
from services.user.api import bot_only
from services.user.deps import DepsDep
from services.user.schemas import BotSession, TelegramChat, problems
from shared.app import UowDep

router = APIRouter(prefix="/api/v1/telegram", tags=["links"], dependencies=[Depends(bot_only)])


@router.post("/token", response_model=BotSession, responses=problems(401, 422))
async def bot_session(body: TelegramChat, uow: UowDep, deps: DepsDep) -> BotSession:
    """For the bot: a short-lived access token (`BOT_ACCESS_TOKEN_MINUTES`) for the account the
    chat is linked to, given the chat key the link answered with. 401 for an unknown chat or key."""
    ttl = timedelta(minutes=deps.settings.bot_access_token_minutes)
    return await bot_sessions.issue_bot_session(uow, deps.tokens, chat_id=body.telegram_chat_id,
                                                chat_key=body.chat_key, ttl=ttl)


@router.post("/unlink", status_code=204, response_class=Response, responses=problems(401, 422))
async def unlink_chat(body: TelegramChat, uow: UowDep) -> Response:
    """For the bot: the chat is no longer linked (the user's /logout, or the user blocked the bot)."""
    await bot_sessions.unlink_chat(uow, chat_id=body.telegram_chat_id, chat_key=body.chat_key)
    return Response(status_code=204)
