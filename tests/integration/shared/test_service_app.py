"""The one wiring of every service, on the real PostgreSQL, RabbitMQ and Redis: the bootstrap hook
builds the deps once, and routes, event handlers and background loops all receive them."""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field, replace
from typing import Annotated

from fastapi import APIRouter, Depends
from sqlalchemy import select

from services.homework.app import SPEC
from services.homework.settings import HomeworkSettings
from shared.app import ServiceContext, create_service_app, get_deps
from shared.db import UnitOfWork
from shared.events import Event, UserCreated, make_event
from shared.inbox import Handlers, InboxEntry
from shared.rabbit import RabbitBus
from tests.support import TestKeys, eventually, mesh_runtime, running


@dataclass
class ToyDeps:
    service: str
    greeted: list[uuid.UUID] = field(default_factory=list)
    loop_started: asyncio.Event = field(default_factory=asyncio.Event)


built: list[ToyDeps] = []


async def bootstrap(ctx: ServiceContext) -> ToyDeps:
    deps = ToyDeps(service=ctx.name)
    built.append(deps)
    return deps


def toy_handlers(deps: ToyDeps) -> Handlers:
    handlers = Handlers()

    @handlers.on("user.created")
    async def on_user_created(uow: UnitOfWork, event: Event) -> None:
        deps.greeted.append(event.payload_as(UserCreated).user_id)

    return handlers


async def toy_loop(ctx: ServiceContext, deps: ToyDeps) -> None:
    deps.loop_started.set()
    await asyncio.Event().wait()


router = APIRouter()


@router.get("/toy")
async def toy(deps: Annotated[ToyDeps, Depends(get_deps)]) -> dict[str, object]:
    return {"service": deps.service, "greeted": [str(user_id) for user_id in deps.greeted]}


async def test_bootstrap_deps_reach_routes_handlers_and_loops(servers, fresh_database, tmp_path):
    spec = replace(SPEC, bootstrap=bootstrap, handlers=toy_handlers, background=[toy_loop], routers=[router])
    settings = HomeworkSettings(mode="mesh", environment="test", var_dir=tmp_path,
                                database_url=fresh_database("toy_"), redis_url=servers.redis_url,
                                rabbitmq_url=servers.rabbitmq_url)
    runtime = mesh_runtime(servers, TestKeys())
    publisher = RabbitBus(servers.rabbitmq_url)
    built.clear()
    app = create_service_app(spec, settings, runtime)
    try:
        async with running(app) as client:
            [deps] = built   # built once
            assert app.state.deps is deps
            await asyncio.wait_for(deps.loop_started.wait(), 10)
            user_id = uuid.uuid4()
            await publisher.publish([make_event(UserCreated(user_id=user_id, role="student", full_name="Ann",
                                                            email="ann@example.org"), producer="user")])
            # the shared app subscribed the handlers built from these deps on homework.events
            await eventually(lambda: deps.greeted == [user_id])
            answer = await client.get("/toy")
            assert answer.json() == {"service": "homework", "greeted": [str(user_id)]}
            async with app.state.session_factory() as session:
                handled = list(await session.scalars(select(InboxEntry.handler)))
            assert len(handled) == 1 and handled[0].endswith(".on_user_created")   # the inbox row
    finally:
        await publisher.close()
        await runtime.close()
