from pydantic import Field, SecretStr, model_validator

from shared.settings import Settings


class NotificationSettings(Settings):
    """Settings of the notification service. A channel without its settings (no SMTP host,
    no bot token) is not used: its deliveries are never created."""

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_use_tls: bool = False            # TLS from the first byte (port 465)
    smtp_start_tls: bool | None = None    # None: upgrade with STARTTLS when the server offers it
    smtp_ca_file: str | None = None       # CA bundle for a relay with a private certificate
    smtp_from: str = "RepitBot <noreply@repitbot.local>"
    smtp_timeout_seconds: float = 10.0

    telegram_api_base: str = "https://api.telegram.org"
    telegram_timeout_seconds: float = 10.0

    low_balance_threshold: int = 100_000  # minor units: 1000.00 RUB
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [24 * 60, 60])
    homework_reminder_minutes: int = Field(24 * 60, gt=0)   # before a homework is due, when nothing came in

    dispatch_interval_seconds: float = 1.0
    dispatch_batch_size: int = 100
    dispatch_concurrency: int = 10
    delivery_max_attempts: int = 5
    delivery_backoff_seconds: float = 30.0
    delivery_backoff_max_seconds: float = 3600.0
    delivery_lease_seconds: float = 120.0

    @model_validator(mode="after")
    def _lease_outlives_a_send(self) -> "NotificationSettings":
        longest_send = max(self.smtp_timeout_seconds, self.telegram_timeout_seconds)
        if self.delivery_lease_seconds <= longest_send:
            raise ValueError("DELIVERY_LEASE_SECONDS must be longer than the SMTP and Telegram timeouts")
        if self.delivery_max_attempts < 1 or any(m <= 0 for m in self.reminder_offsets_minutes):
            raise ValueError("DELIVERY_MAX_ATTEMPTS and REMINDER_OFFSETS_MINUTES must be positive")
        return self

    def email_configured(self) -> bool:
        return bool(self.smtp_host)

    def telegram_configured(self) -> bool:
        return bool(self.bot_token and self.bot_token.get_secret_value())
