import os

from pydantic import Field

from shared.settings import Settings


class UserSettings(Settings):
    """Settings of the user service (the JWT_*, BOT_* and PUBLIC_BASE_URL knobs are shared)."""

    login_window_seconds: int = 900
    login_max_failures_per_account_address: int = 5   # then that address waits out the window
    login_max_failures_per_ip: int = 30
    login_backoff_after_failures: int = 10   # failures of an account from anywhere before its back-off
    login_backoff_max_seconds: int = 300
    invite_ttl_hours: int = 168
    telegram_link_ttl_minutes: int = 10
    bot_access_token_minutes: int = Field(5, ge=1, le=60)   # the bot's access tokens for a linked chat
    avatar_max_bytes: int = 5 * 1024 * 1024
    signing_key_cache_seconds: float = 30.0
    # Argon2id: OWASP's first recommendation (19 MiB, 2 passes, 1 lane); see docs/benchmarks.md
    password_hash_memory_kib: int = Field(19_456, ge=8)
    password_hash_time_cost: int = Field(2, ge=1)
    password_hash_parallelism: int = Field(1, ge=1)
    password_hash_concurrency: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    password_hash_max_waiting: int = Field(32, ge=0)   # more waiting hashes are refused with 503
    password_hash_niceness: int = Field(10, ge=0, le=19)  # hashing threads yield the CPU to requests

    def required_production_secrets(self) -> list[str]:
        return ["jwt_private_key", *super().required_production_secrets()]
