"""The providers a payment service has, built from its settings."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from services.payment.providers.base import Provider
from services.payment.providers.local import DemoProvider, ManualProvider
from services.payment.settings import PaymentSettings
from shared.errors import NotFound, Unprocessable


@dataclass
class Providers:
    default: str
    demo: DemoProvider
    by_name: dict[str, Provider] = field(default_factory=dict)

    def get(self, name: str) -> Provider:
        """The provider that takes webhooks by this name; 404 for one not configured."""
        found = self.by_name.get(name)
        if found is None:
            raise NotFound(f"No payment provider {name!r} here")
        return found

    def for_top_up(self, name: str | None) -> Provider:
        """The provider a payer chose (or the default); 422 for one not configured or `manual`."""
        chosen = name or self.default
        if chosen == "manual" or chosen not in self.by_name:
            raise Unprocessable(f"The provider {chosen!r} is not available for top-ups",
                                errors=[{"loc": ["body", "provider"], "msg": f"one of {self.top_up_names}"}])
        return self.by_name[chosen]

    @property
    def top_up_names(self) -> list[str]:
        return sorted(n for n in self.by_name if n != "manual")


def build_providers(settings: PaymentSettings) -> Providers:
    """`demo` and `manual` always; YooKassa and Stripe when their credentials are set."""
    secret = settings.payment_demo_secret.get_secret_value().encode() if settings.payment_demo_secret \
        else secrets.token_bytes(32)
    demo = DemoProvider(secret, settings.public_base_url)
    found: dict[str, Provider] = {"demo": demo, "manual": ManualProvider()}
    timeout = settings.payment_provider_timeout_seconds
    if settings.yookassa_shop_id and settings.yookassa_secret_key:
        from services.payment.providers.yookassa import YooKassaProvider
        found["yookassa"] = YooKassaProvider(
            settings.yookassa_shop_id, settings.yookassa_secret_key.get_secret_value(), settings.yookassa_api_url,
            timeout=timeout, networks=settings.yookassa_notification_networks)
    if settings.stripe_api_key and settings.stripe_webhook_secret:
        from services.payment.providers.stripe import StripeProvider
        found["stripe"] = StripeProvider(
            settings.stripe_api_key.get_secret_value(), settings.stripe_webhook_secret.get_secret_value(),
            settings.stripe_api_base, timeout=timeout, tolerance=settings.stripe_webhook_tolerance_seconds)
    default = settings.payment_default_provider if settings.payment_default_provider in found else "demo"
    return Providers(default=default, demo=demo, by_name=found)
