from pathlib import Path

from fastapi import FastAPI

from services.material import api
from services.material.models import MaterialBase
from services.material.settings import MaterialSettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="material",
    metadata=MaterialBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=MaterialSettings,
    routers=[api.router],
)


def create_app(settings: MaterialSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or MaterialSettings(), runtime)
