"""Settings of the bot process (BOT_TOKEN, BOT_USERNAME and PUBLIC_BASE_URL are shared)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import GATEWAY_PORT, Settings


class BotSettings(Settings):
    telegram_api_base: str = "https://api.telegram.org"   # the Bot API server (a local fake in tests)
    bot_gateway_url: str = f"http://127.0.0.1:{GATEWAY_PORT}"   # where the bot reaches the API (mesh)
    bot_run_mode: Literal["polling", "webhook"] = "polling"
    bot_webhook_secret: SecretStr | None = None   # Telegram's X-Telegram-Bot-Api-Secret-Token
    bot_webhook_port: int = 8010                  # the bot's own port in webhook mode (behind the gateway)
    bot_update_ttl_seconds: int = Field(86_400, ge=60)   # how long an update id is remembered (dedupe)
    bot_request_retries: int = Field(3, ge=0)     # Bot API calls retried after a 429 (waiting retry_after)
    bot_timeout_seconds: float = 30.0             # gateway calls

    def token(self) -> str:
        return self.bot_token.get_secret_value() if self.bot_token else ""

    def configured(self) -> bool:
        return bool(self.token())
