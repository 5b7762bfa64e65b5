"""The homework service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.homework import api
from services.homework.deps import HomeworkDeps
from services.homework.handlers import homework_handlers
from services.homework.models import HomeworkBase
from services.homework.settings import HomeworkSettings
from shared.app import ServiceContext, ServiceSpec, create_service_app
from shared.people import close_directory, directory_for
from shared.runtime import Runtime


async def bootstrap(ctx: ServiceContext) -> HomeworkDeps:
    """The service's dependencies, built once when it starts."""
    return HomeworkDeps(settings=cast(HomeworkSettings, ctx.settings), directory=directory_for(ctx))


SPEC = ServiceSpec(
    name="homework",
    metadata=HomeworkBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=HomeworkSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=homework_handlers,
    background=[close_directory],
)


def create_app(settings: HomeworkSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or HomeworkSettings(), runtime)
