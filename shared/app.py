"""The service app factory: the same wiring for all nine services."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared import health, metrics, tracing
from shared.auth import JWKSClient, KeySource, RedisRevocationList, TokenVerifier
from shared.db import UnitOfWork, make_engine
from shared.errors import install_problem_handlers
from shared.http import RequestContextMiddleware
from shared.inbox import Consumer, Handlers
from shared.logs import configure_logging
from shared.migrations import alembic_config, ensure_database, upgrade
from shared.outbox import OutboxRelay
from shared.runtime import Runtime, make_runtime, tune_gc
from shared.settings import Settings
from shared.storage import LocalStorage

log = logging.getLogger(__name__)
Hook = Callable[[FastAPI], Awaitable[None]]


@dataclass
class ServiceSpec:
    """What makes one service: its name, tables, routes, event handlers and hooks."""

    name: str
    metadata: MetaData
    versions_dir: Path
    routers: list[APIRouter] = field(default_factory=list)
    handlers: Handlers | None = None
    on_startup: list[Hook] = field(default_factory=list)      # after the database is ready
    background: list[Hook] = field(default_factory=list)      # long-running loops, cancelled at exit
    key_source: Callable[[FastAPI], KeySource] | None = None  # default: the user service's JWKS
    settings_class: type[Settings] = Settings

    def settings_from(self, common: Settings) -> Settings:
        """This service's settings: the process-wide values of `common`, the rest from the environment."""
        values = {name: getattr(common, name) for name in Settings.model_fields}
        return self.settings_class(**values)


def create_service_app(spec: ServiceSpec, settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    owns_runtime = runtime is None
    if owns_runtime:
        configure_logging(settings.log_level, json_output=settings.log_json, process=spec.name)
        tracing.configure(settings, single_service=spec.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or make_runtime(settings)
        app.state.runtime = rt
        url = settings.database_url_for(spec.name)
        if url.startswith("sqlite"):
            settings.var_dir.mkdir(parents=True, exist_ok=True)
        await ensure_database(url)
        engine = make_engine(url, pool_size=settings.database_pool_size)
        tracing.instrument_engine(engine, spec.name)
        tracing.instrument_redis(spec.name)
        await upgrade(engine, alembic_config(spec.name, spec.versions_dir, spec.metadata))
        session_factory = async_sessionmaker(engine, expire_on_commit=False)
        relay = OutboxRelay(session_factory, rt.bus, service=spec.name)
        app.state.engine = engine
        app.state.session_factory = session_factory
        app.state.relay = relay
        app.state.uow_factory = lambda: UnitOfWork(session_factory, producer=spec.name, on_commit=relay.notify)
        app.state.storage = LocalStorage(settings.files_dir() / spec.name)
        keys = (spec.key_source(app) if spec.key_source else rt.key_source) or JWKSClient(
            settings.jwks_location(), transport=rt.transports.get("user"))
        revocations = app.state.revocations = RedisRevocationList(rt.redis)
        app.state.verifier = TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                           revocations=revocations, cache_size=settings.token_cache_size)
        app.state.ready_checks = {"database": _database_check(engine), "bus": rt.bus.ping,
                                  "redis": rt.redis.ping}
        await rt.bus.start()
        # startup hooks run before the consumer subscribes: they may replace app.state.uow_factory
        for hook in spec.on_startup:
            await hook(app)
        tasks = [asyncio.create_task(relay.run(), name=f"{spec.name}:outbox")]
        if settings.mode == "mesh":
            tasks.append(asyncio.create_task(revocations.mirror(), name=f"{spec.name}:revocations"))
        tasks += [asyncio.create_task(hook(app), name=f"{spec.name}:{hook.__name__}") for hook in spec.background]
        if spec.handlers and spec.handlers.routing_keys:
            consumer = Consumer(spec.name, app.state.uow_factory, spec.handlers,
                                max_batch=settings.event_batch_size)
            await rt.bus.subscribe(f"{spec.name}.events", spec.handlers.routing_keys, consumer)
        if owns_runtime:
            tune_gc()
        log.info("%s service started", spec.name)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            if owns_runtime:
                await rt.close()
                tracing.shutdown()
            await engine.dispose()

    app = FastAPI(title=f"RepitBot {spec.name} service", version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.service = spec.name
    app.add_middleware(RequestContextMiddleware, service=spec.name, max_json_bytes=settings.max_json_body_bytes)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    for router in spec.routers:
        app.include_router(router)
    tracing.instrument_app(app, spec.name)
    return app


def _database_check(engine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    return check


async def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.uow_factory()


async def get_settings(request: Request) -> Any:
    return request.app.state.settings


async def get_storage(request: Request) -> LocalStorage:
    return request.app.state.storage


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
StorageDep = Annotated[LocalStorage, Depends(get_storage)]
