"""The gateway's own knobs, on top of the settings every process shares."""
from __future__ import annotations

from typing import Annotated

from pydantic import SecretStr, field_validator
from pydantic_settings import NoDecode

from shared.settings import Settings

LOCAL_ORIGINS = ["http://localhost:3000", "http://127.0.0.1:3000",
                 "http://localhost:5173", "http://127.0.0.1:5173"]


class GatewaySettings(Settings):
    """Settings of the API gateway (every field is an environment variable of the same name)."""

    rate_limit_per_minute: int = 100
    auth_rate_limit_per_minute: int = 10          # POST /auth/login and /auth/register, per IP
    rate_limit_storage_url: str | None = None     # `limits` storage URI; default: memory or REDIS_URL (mesh)

    circuit_breaker_failure_threshold: int = 5
    circuit_breaker_recovery_timeout: float = 60.0
    breaker_sync_interval: float = 0.25           # how often breaker state is read back from Redis

    upstream_connect_timeout: float = 2.0
    upstream_read_timeout: float = 30.0           # waiting for headers, and between body chunks
    upstream_max_concurrent: int = 200            # requests in flight per upstream service
    upstream_retries: int = 2                     # extra attempts of idempotent requests on connection failure
    upstream_ejection_seconds: float = 10.0       # an instance that failed is skipped this long
    upstream_ejection_after_errors: int = 3       # consecutive 5xx/timeouts that eject an instance

    max_request_bytes: int = 64 * 1024 * 1024    # a larger declared body is refused (413) before it is read

    health_timeout: float = 1.0
    health_cache_seconds: float = 1.0
    openapi_cache_seconds: float = 30.0

    cors_origins: Annotated[list[str], NoDecode] = LOCAL_ORIGINS

    # the Telegram bot in webhook mode: /telegram/webhook is checked and forwarded to it
    bot_webhook_secret: SecretStr | None = None
    bot_webhook_upstream: str = "http://127.0.0.1:8010"

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        """`CORS_ORIGINS` as a comma-separated list or a JSON array."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json
                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    def limits_storage_uri(self) -> str:
        if self.rate_limit_storage_url:
            return self.rate_limit_storage_url
        if self.mode == "mesh" and self.redis_url:
            return self.redis_url
        return "memory://"
