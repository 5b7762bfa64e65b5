"""The homework service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from typing import cast

from services.homework import api
from services.homework.deps import HomeworkDeps
from services.homework.handlers import homework_handlers
from services.homework.models import HomeworkBase
from services.homework.settings import HomeworkSettings
from shared.app import ServiceContext, ServiceSpec
from shared.people import close_directory, directory_for


async def bootstrap(ctx: ServiceContext) -> HomeworkDeps:
    """The service's dependencies, built once when it starts."""
    return HomeworkDeps(settings=cast(HomeworkSettings, ctx.settings), directory=directory_for(ctx))


SPEC = ServiceSpec(
    name="homework",
    metadata=HomeworkBase.metadata,
    settings_class=HomeworkSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=homework_handlers,
    background=[close_directory],
)


create_app = SPEC.create_app
