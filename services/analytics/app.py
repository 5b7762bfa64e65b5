"""The analytics service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.analytics import api
from services.analytics.deps import AnalyticsDeps
from services.analytics.handlers import analytics_handlers
from services.analytics.models import AnalyticsBase
from services.analytics.settings import AnalyticsSettings
from shared.app import ServiceContext, ServiceSpec, create_service_app
from shared.runtime import Runtime


async def bootstrap(ctx: ServiceContext) -> AnalyticsDeps:
    """The service's dependencies, built once when it starts."""
    return AnalyticsDeps(settings=cast(AnalyticsSettings, ctx.settings))


SPEC = ServiceSpec(
    name="analytics",
    metadata=AnalyticsBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=AnalyticsSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=analytics_handlers,
)


def create_app(settings: AnalyticsSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or AnalyticsSettings(), runtime)
