"""The lesson service: what it is made of (`SPEC`) and its app."""
from typing import cast

from services.lesson import api
from services.lesson.deps import LessonDeps
from services.lesson.handlers import lesson_handlers
from services.lesson.models import LessonBase
from services.lesson.settings import LessonSettings
from shared.app import ServiceContext, ServiceSpec
from shared.people import close_directory, directory_for


async def bootstrap(ctx: ServiceContext) -> LessonDeps:
    """The service's dependencies, built once when it starts."""
    return LessonDeps(settings=cast(LessonSettings, ctx.settings), directory=directory_for(ctx))


SPEC = ServiceSpec(
    name="lesson",
    metadata=LessonBase.metadata,
    settings_class=LessonSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=lesson_handlers,
    background=[close_directory],
)


create_app = SPEC.create_app
