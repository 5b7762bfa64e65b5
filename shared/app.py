"""The service app factory: the same wiring for all nine services."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Generic, TypeVar

from fastapi import APIRouter, Depends, FastAPI, Request
from sqlalchemy import MetaData, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from shared import docs, health, metrics, openapi, tracing
from shared.auth import JWKSClient, KeySource, RedisRevocationList, TokenVerifier
from shared.background import Background as BackgroundWork
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

SERVICES_DIR = Path(__file__).resolve().parent.parent / "services"
log = logging.getLogger(__name__)
D = TypeVar("D")


@dataclass(frozen=True)
class ServiceContext:
    """What the shared app builds for every service before the service's bootstrap hook runs."""

    name: str
    settings: Settings
    runtime: Runtime
    session_factory: async_sessionmaker[AsyncSession]
    uow_factory: Callable[[], UnitOfWork]
    storage: LocalStorage
    revocations: RedisRevocationList
    background: BackgroundWork    # work started after commits; finished or cancelled at shutdown


Bootstrap = Callable[[ServiceContext], Awaitable[D]]
Background = Callable[[ServiceContext, D], Awaitable[None]]
Teardown = Callable[[D], Awaitable[None]]


@dataclass(frozen=True)
class ServiceSpec(Generic[D]):
    """What makes one service: its name, tables, settings, the bootstrap hook that builds its
    dependencies (`D`, a dataclass of the service's collaborators) once at start, what receives
    them: routes (through `get_deps`), event handlers and background loops, and the teardown hook
    that releases what the deps hold (threads, say) when the service stops."""

    name: str
    metadata: MetaData
    settings_class: type[Settings]
    bootstrap: Bootstrap[D]
    routers: list[APIRouter] = field(default_factory=list)
    handlers: Callable[[D], Handlers] | None = None     # the event handlers, built from the deps
    background: list[Background[D]] = field(default_factory=list)  # long-running loops, cancelled at exit
    key_source: Callable[[D], KeySource] | None = None  # default: the user service's JWKS
    teardown: Teardown[D] | None = None  # at exit, once the loops have stopped
    versions_dir: Path = None  # type: ignore[assignment]  # default: services/<name>/migrations/versions

    def __post_init__(self) -> None:
        if self.versions_dir is None:
            object.__setattr__(self, "versions_dir", SERVICES_DIR / self.name / "migrations" / "versions")

    def create_app(self, settings: Settings | None = None, runtime: Runtime | None = None) -> FastAPI:
        """The service's app (`settings` default to its settings class read from the environment)."""
        return create_service_app(self, settings or self.settings_class(), runtime)

    def settings_from(self, common: Settings) -> Settings:
        """This service's settings: the process-wide values of `common`, the rest from the environment."""
        values = {name: getattr(common, name) for name in Settings.model_fields}
        return self.settings_class(**values)


def create_service_app(spec: ServiceSpec[Any], settings: Settings, runtime: Runtime | None = None) -> FastAPI:
    owns_runtime = runtime is None
    if owns_runtime:
        configure_logging(settings.log_level, json_output=settings.log_json, process=spec.name)
        tracing.configure(settings, single_service=spec.name)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or make_runtime(settings)
        engine, relay, ctx = await _open(spec, settings, rt)
        _expose(app, ctx, engine, relay)
        await rt.bus.start()
        deps = app.state.deps = await spec.bootstrap(ctx)
        keys = (spec.key_source(deps) if spec.key_source else rt.key_source) or JWKSClient(
            settings.jwks_location(), transport=rt.transports.get("user"))
        app.state.verifier = TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                           revocations=ctx.revocations, cache_size=settings.token_cache_size)
        tasks = [asyncio.create_task(relay.run(), name=f"{spec.name}:outbox")]
        if settings.mode == "mesh":
            tasks.append(asyncio.create_task(ctx.revocations.mirror(), name=f"{spec.name}:revocations"))
        tasks += [asyncio.create_task(loop(ctx, deps), name=f"{spec.name}:{loop.__name__}")
                  for loop in spec.background]
        await _subscribe(spec, ctx, deps)
        if owns_runtime:
            tune_gc()
        log.info("%s service started", spec.name)
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            try:
                if spec.teardown:
                    await spec.teardown(deps)
            finally:
                await ctx.background.close()
                if owns_runtime:
                    await rt.close()
                    tracing.shutdown()
                await engine.dispose()

    app = FastAPI(title=f"RepitBot {spec.name} service", version="1.0.0", lifespan=lifespan,
                  docs_url=None, redoc_url=None)    # /docs from shared.docs: no CDN, a strict CSP
    app.state.settings = settings
    app.state.service = spec.name
    app.add_middleware(RequestContextMiddleware, service=spec.name, max_json_bytes=settings.max_json_body_bytes)
    install_problem_handlers(app)
    openapi.install(app)
    app.include_router(health.router)
    app.include_router(metrics.router)
    app.include_router(docs.router)
    for router in spec.routers:
        app.include_router(router)
    tracing.instrument_app(app, spec.name)
    return app


async def _open(spec: ServiceSpec[Any], settings: Settings, rt: Runtime
                ) -> tuple[AsyncEngine, OutboxRelay, ServiceContext]:
    """The service's database, migrated to head, its outbox relay and its context."""
    url = settings.database_url_for(spec.name)
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    await ensure_database(url)
    engine = make_engine(url, pool_size=settings.database_pool_size)
    tracing.instrument_engine(engine, spec.name)
    tracing.instrument_redis(spec.name)
    await upgrade(engine, alembic_config(spec.name, spec.versions_dir, spec.metadata))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    relay = OutboxRelay(sessions, rt.bus, service=spec.name)
    background = BackgroundWork(spec.name)
    ctx = ServiceContext(
        name=spec.name, settings=settings, runtime=rt, session_factory=sessions,
        uow_factory=lambda: UnitOfWork(sessions, producer=spec.name, on_commit=relay.notify, background=background),
        storage=LocalStorage(settings.files_dir() / spec.name), revocations=RedisRevocationList(
            rt.redis, grace_seconds=settings.revocation_grace_seconds),
        background=background)
    return engine, relay, ctx


def _expose(app: FastAPI, ctx: ServiceContext, engine: AsyncEngine, relay: OutboxRelay) -> None:
    """The app's state: read by the shared dependencies below, by commands and by tests."""
    app.state.context = ctx
    app.state.runtime = ctx.runtime
    app.state.session_factory = ctx.session_factory
    app.state.uow_factory = ctx.uow_factory
    app.state.relay = relay
    app.state.background = ctx.background
    app.state.ready_checks = {"database": _database_check(engine), "bus": ctx.runtime.bus.ping,
                              "redis": ctx.runtime.redis.ping}


async def _subscribe(spec: ServiceSpec[D], ctx: ServiceContext, deps: D) -> None:
    """Every service consumes its events the same way: one queue, `<service>.events`."""
    handlers = spec.handlers(deps) if spec.handlers else None
    if handlers and handlers.routing_keys:
        consumer = Consumer(spec.name, ctx.uow_factory, handlers, max_batch=ctx.settings.event_batch_size)
        await ctx.runtime.bus.subscribe(f"{spec.name}.events", handlers.routing_keys, consumer)


def _database_check(engine) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    return check


# FastAPI dependencies of every service's routes; a service spells its own typed aliases as
# `SettingsDep = Annotated[<Name>Settings, Depends(get_settings)]` and
# `DepsDep = Annotated[<Name>Deps, Depends(get_deps)]`.
async def get_uow(request: Request) -> UnitOfWork:
    return request.app.state.context.uow_factory()


async def get_uow_factory(request: Request) -> Callable[[], UnitOfWork]:
    """For a use case that runs several transactions (batches of students, say)."""
    return request.app.state.context.uow_factory


async def get_settings(request: Request) -> Any:
    return request.app.state.settings


async def get_deps(request: Request) -> Any:
    """What the service's bootstrap hook built."""
    return request.app.state.deps


async def get_storage(request: Request) -> LocalStorage:
    return request.app.state.context.storage


async def get_verifier(request: Request) -> TokenVerifier:
    return request.app.state.verifier


UowDep = Annotated[UnitOfWork, Depends(get_uow)]
UowFactoryDep = Annotated[Callable[[], UnitOfWork], Depends(get_uow_factory)]
StorageDep = Annotated[LocalStorage, Depends(get_storage)]
VerifierDep = Annotated[TokenVerifier, Depends(get_verifier)]
