"""Administrative tasks run as commands: they start the user service's app briefly, in either mode."""
from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

from fastapi import FastAPI

from repitbot.services import service_module
from shared.settings import Settings


@contextlib.asynccontextmanager
async def _user_service(settings: Settings) -> AsyncIterator[FastAPI]:
    app = service_module("user").create_app()
    if settings.mode == "embedded":
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    async with app.router.lifespan_context(app):
        yield app
        # give the relay a moment to publish what was just written (the outbox keeps it anyway)
        await app.state.relay.relay_once()


async def create_admin(settings: Settings, *, email: str, password: str, full_name: str) -> uuid.UUID:
    from services.user.seed import create_admin as create
    async with _user_service(settings) as app:
        return await create(app.state.uow_factory, app.state.deps.passwords, email=email, password=password,
                            full_name=full_name)


async def seed_demo_data(settings: Settings) -> list[str]:
    from services.user.seed import seed_demo
    async with _user_service(settings) as app:
        return await seed_demo(app.state.uow_factory, app.state.deps.passwords)
