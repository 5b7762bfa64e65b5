from pathlib import Path

from fastapi import FastAPI

from services.payment import api
from services.payment.models import PaymentBase
from services.payment.settings import PaymentSettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="payment",
    metadata=PaymentBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=PaymentSettings,
    routers=[api.router],
)


def create_app(settings: PaymentSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or PaymentSettings(), runtime)
