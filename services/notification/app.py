from pathlib import Path

from fastapi import FastAPI

from services.notification import api
from services.notification.channels import build_channels
from services.notification.dispatcher import Dispatcher, run_dispatcher
from services.notification.handlers import handlers
from services.notification.models import NotificationBase
from services.notification.settings import NotificationSettings
from services.notification.templates import Renderer
from services.notification.unit_of_work import Clock, Deps, NotificationUow
from shared.app import ServiceSpec, create_service_app
from shared.events import utcnow
from shared.runtime import Runtime


async def wire(app: FastAPI) -> None:
    """Give handlers and routes the service's unit of work (with the clock and settings),
    and make the dispatcher with the channels that are configured."""
    settings: NotificationSettings = app.state.settings
    channels = build_channels(settings)
    deps = Deps(settings=settings, clock=app.state.clock, channels=tuple(channels), renderer=Renderer())
    sessions, relay = app.state.session_factory, app.state.relay
    app.state.uow_factory = lambda: NotificationUow(sessions, deps, on_commit=relay.notify)
    app.state.dispatcher = Dispatcher(app.state.uow_factory, channels, deps)


SPEC = ServiceSpec(
    name="notification",
    metadata=NotificationBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=NotificationSettings,
    routers=[api.router],
    handlers=handlers,
    on_startup=[wire],
    background=[run_dispatcher],
)


def create_app(settings: NotificationSettings | None = None, runtime: Runtime | None = None, *,
               clock: Clock | None = None) -> FastAPI:
    """`clock` gives the time to handlers and the dispatcher loop (tests pass one they control)."""
    app = create_service_app(SPEC, settings or NotificationSettings(), runtime)
    app.state.clock = clock or utcnow
    return app
