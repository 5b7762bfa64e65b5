"""The payment service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.payment import api
from services.payment.deps import PaymentDeps
from services.payment.handlers import payment_handlers
from services.payment.models import PaymentBase
from services.payment.providers import build_providers
from services.payment.recovery import recover_pending
from services.payment.settings import PaymentSettings
from shared.app import ServiceContext, ServiceSpec, create_service_app
from shared.people import close_directory, directory_for
from shared.runtime import Runtime


async def bootstrap(ctx: ServiceContext) -> PaymentDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(PaymentSettings, ctx.settings)
    return PaymentDeps(settings=settings, directory=directory_for(ctx), providers=build_providers(settings))


SPEC = ServiceSpec(
    name="payment",
    metadata=PaymentBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=PaymentSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=payment_handlers,
    background=[close_directory, recover_pending],
)


def create_app(settings: PaymentSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or PaymentSettings(), runtime)
