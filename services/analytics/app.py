from pathlib import Path

from fastapi import FastAPI

from services.analytics import api
from services.analytics.models import AnalyticsBase
from services.analytics.settings import AnalyticsSettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="analytics",
    metadata=AnalyticsBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=AnalyticsSettings,
    routers=[api.router],
)


def create_app(settings: AnalyticsSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or AnalyticsSettings(), runtime)
