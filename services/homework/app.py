from pathlib import Path

from fastapi import FastAPI

from services.homework import api
from services.homework.models import HomeworkBase
from services.homework.settings import HomeworkSettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="homework",
    metadata=HomeworkBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=HomeworkSettings,
    routers=[api.router],
)


def create_app(settings: HomeworkSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or HomeworkSettings(), runtime)
