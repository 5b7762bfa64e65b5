"""Payment providers behind one small interface (`base.Provider`): `demo` (the default, a local
confirmation page), `yookassa` and `stripe` through their official SDKs, and `manual` (money a
teacher received by hand, completed at once, refunded by hand)."""
from __future__ import annotations

from services.payment.providers.base import (
    BadNotification,
    Checkout,
    Created,
    Notice,
    Provider,
    ProviderRefused,
    ProviderUnavailable,
)
from services.payment.providers.registry import Providers, build_providers

__all__ = ["BadNotification", "Checkout", "Created", "Notice", "Provider", "ProviderRefused", "ProviderUnavailable",
           "Providers", "build_providers"]
