"""The notification service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import cast

from fastapi import FastAPI

from services.notification import api
from services.notification.channels import build_channels
from services.notification.deps import Clock, NotificationDeps
from services.notification.dispatcher import run_dispatcher
from services.notification.handlers import notification_handlers
from services.notification.models import NotificationBase
from services.notification.settings import NotificationSettings
from services.notification.templates import Renderer
from shared.app import ServiceContext, ServiceSpec
from shared.events import utcnow
from shared.runtime import Runtime


def bootstrap_with(clock: Clock) -> Callable[[ServiceContext], Awaitable[NotificationDeps]]:
    """The bootstrap hook of a service that tells the time with `clock`."""
    async def bootstrap(ctx: ServiceContext) -> NotificationDeps:
        """The configured channels and the template renderer, on the given clock."""
        settings = cast(NotificationSettings, ctx.settings)
        return NotificationDeps(settings=settings, clock=clock, channels=build_channels(settings),
                                renderer=Renderer())
    return bootstrap


SPEC = ServiceSpec(
    name="notification",
    metadata=NotificationBase.metadata,
    settings_class=NotificationSettings,
    bootstrap=bootstrap_with(utcnow),
    routers=[api.router],
    handlers=notification_handlers,
    background=[run_dispatcher],
)


def create_app(settings: NotificationSettings | None = None, runtime: Runtime | None = None, *,
               clock: Clock | None = None) -> FastAPI:
    """`clock` gives the time to handlers, use cases and the dispatcher (tests pass one they control)."""
    spec = replace(SPEC, bootstrap=bootstrap_with(clock)) if clock else SPEC
    return spec.create_app(settings, runtime)
