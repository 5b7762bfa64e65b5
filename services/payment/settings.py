"""The payment service's own settings; the common ones come from `shared.settings.Settings`.
Each field is read from the environment variable of its name in capitals (and listed in `.env.example`)."""
from typing import Literal

from pydantic import Field, SecretStr

from shared.settings import Settings

ProviderName = Literal["demo", "yookassa", "stripe"]


class PaymentSettings(Settings):
    """Settings of the payment service."""

    # the provider of a top-up that names none; `demo` needs no account anywhere
    payment_default_provider: ProviderName = "demo"
    payment_provider_timeout_seconds: float = Field(15.0, gt=0)
    # a top-up or refund whose provider call began this long ago and whose answer is not recorded
    # (a crash, an unknown outcome) is settled by the recovery loop; longer than the timeout
    payment_recovery_after_seconds: float = Field(60.0, gt=0)
    # where the payer comes back after paying at the provider
    payment_return_url: str = "http://127.0.0.1:8000/"
    # signs the demo provider's confirmation links; a fresh one per process when unset
    payment_demo_secret: SecretStr | None = None
    yookassa_shop_id: str | None = None
    yookassa_secret_key: SecretStr | None = None
    yookassa_api_url: str = "https://api.yookassa.ru/v3"
    # YooKassa's notification sources; empty: any source (the payment is fetched back anyway)
    yookassa_notification_networks: list[str] = Field(default_factory=list)
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str = "https://api.stripe.com"
    stripe_webhook_tolerance_seconds: int = Field(300, gt=0)

    def required_production_secrets(self) -> list[str]:
        # every instance must sign the demo page's links alike, or a link made by one fails at another
        return ["payment_demo_secret", *super().required_production_secrets()]
