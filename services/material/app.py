"""The material service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from typing import cast

from sqlalchemy.engine import make_url

from services.material import api
from services.material.deps import MaterialDeps
from services.material.handlers import material_handlers
from services.material.models import MaterialBase
from services.material.preview_jobs import Previewer, resume_previews
from services.material.search import search_for
from services.material.settings import MaterialSettings
from shared.app import ServiceContext, ServiceSpec
from shared.people import close_directory, directory_for


async def bootstrap(ctx: ServiceContext) -> MaterialDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(MaterialSettings, ctx.settings)
    dialect = make_url(settings.database_url_for("material")).get_backend_name()
    return MaterialDeps(settings=settings, directory=directory_for(ctx), search=search_for(dialect),
                        previewer=Previewer(settings, ctx.storage, ctx.uow_factory), storage=ctx.storage,
                        uows=ctx.uow_factory)


SPEC = ServiceSpec(
    name="material",
    metadata=MaterialBase.metadata,
    settings_class=MaterialSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=material_handlers,
    background=[close_directory, resume_previews],
)


create_app = SPEC.create_app
