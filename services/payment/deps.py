"""What the payment service's bootstrap hook (`app.bootstrap`) builds once, and the route
dependencies that hand it over."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends

from services.payment.providers import Providers
from services.payment.settings import PaymentSettings
from shared.app import get_deps, get_settings
from shared.people import Directory


@dataclass(frozen=True)
class PaymentDeps:
    settings: PaymentSettings
    directory: Directory     # asks the user service about a link not heard of yet
    providers: Providers     # demo and manual always; YooKassa and Stripe when configured


DepsDep = Annotated[PaymentDeps, Depends(get_deps)]
SettingsDep = Annotated[PaymentSettings, Depends(get_settings)]
