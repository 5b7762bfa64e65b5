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
    avatar_max_bytes: int = 5 * 1024 * 1024
    signing_key_cache_seconds: float = 30.0

    def required_production_secrets(self) -> list[str]:
        return ["jwt_private_key", *super().required_production_secrets()]
