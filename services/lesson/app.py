from pathlib import Path

from fastapi import FastAPI

from services.lesson import api
from services.lesson.handlers import handlers
from services.lesson.models import LessonBase
from services.lesson.settings import LessonSettings
from shared.app import ServiceSpec, create_service_app
from shared.people import close_directory
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="lesson",
    metadata=LessonBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=LessonSettings,
    routers=[api.router],
    handlers=handlers,
    background=[close_directory],
)


def create_app(settings: LessonSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or LessonSettings(), runtime)
