"""The payment service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from typing import cast

from services.payment import api
from services.payment.deps import PaymentDeps
from services.payment.handlers import payment_handlers
from services.payment.models import PaymentBase
from services.payment.providers import build_providers
from services.payment.recovery import recover_pending
from services.payment.settings import PaymentSettings
from shared.app import ServiceContext, ServiceSpec
from shared.people import close_directory, directory_for


async def bootstrap(ctx: ServiceContext) -> PaymentDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(PaymentSettings, ctx.settings)
    return PaymentDeps(settings=settings, directory=directory_for(ctx), providers=build_providers(settings))


SPEC = ServiceSpec(
    name="payment",
    metadata=PaymentBase.metadata,
    settings_class=PaymentSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=payment_handlers,
    background=[close_directory, recover_pending],
)


create_app = SPEC.create_app
