"""The lesson service: what it is made of (`SPEC`) and its app."""
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.lesson import api
from services.lesson.deps import LessonDeps
from services.lesson.handlers import lesson_handlers
from services.lesson.models import LessonBase
from services.lesson.settings import LessonSettings
from shared.app import ServiceContext, ServiceSpec, create_service_app
from shared.people import close_directory, directory_for
from shared.runtime import Runtime


async def bootstrap(ctx: ServiceContext) -> LessonDeps:
    """The service's dependencies, built once when it starts."""
    return LessonDeps(settings=cast(LessonSettings, ctx.settings), directory=directory_for(ctx))


SPEC = ServiceSpec(
    name="lesson",
    metadata=LessonBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=LessonSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=lesson_handlers,
    background=[close_directory],
)


def create_app(settings: LessonSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or LessonSettings(), runtime)
