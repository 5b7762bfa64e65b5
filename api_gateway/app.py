"""The gateway app: one route for every proxied path, then the gateway's own endpoints."""
from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import AsyncIterator

from fastapi import FastAPI
from slowapi.errors import RateLimitExceeded
from starlette.middleware.cors import CORSMiddleware

from api_gateway import api, proxy, ratelimit, telegram
from api_gateway.breakers import Clock
from api_gateway.gateway import Gateway
from api_gateway.settings import GatewaySettings
from shared import docs, health, metrics, tracing
from shared.errors import install_problem_handlers
from shared.http import RequestContextMiddleware
from shared.logs import configure_logging
from shared.runtime import Runtime


def create_app(settings: GatewaySettings | None = None, runtime: Runtime | None = None, *,
               clock: Clock = time.time) -> FastAPI:
    """`clock` times the circuit breakers' recovery (tests pass one they control)."""
    settings = settings or GatewaySettings()
    if runtime is None:
        configure_logging(settings.log_level, json_output=settings.log_json, process="gateway")
        tracing.configure(settings, single_service="gateway")
    gateway = Gateway(settings, runtime, clock=clock)
    limiter = ratelimit.make_limiter(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        app.state.runtime = gateway.runtime
        app.state.verifier = gateway.authenticator
        app.state.ready_checks = {"redis": gateway.ping_redis, "rate_limits": limiter.ping}
        try:
            yield
        finally:
            await gateway.stop()
            if runtime is None:
                tracing.shutdown()

    app = FastAPI(title="RepitBot API gateway", version="1.0.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.service = "gateway"
    app.state.gateway = gateway
    app.state.limiter = limiter                 # where slowapi looks for it
    # The last added is the outermost: correlation ID and metrics, then CORS.
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                       allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["X-Correlation-ID", "Retry-After", "RateLimit-Limit",
                                       "RateLimit-Remaining", "RateLimit-Reset"])
    # Proxied bodies are streamed and limited by the services themselves: no JSON size cap here.
    app.add_middleware(RequestContextMiddleware, service="gateway", max_json_bytes=sys.maxsize)
    install_problem_handlers(app)
    app.add_exception_handler(RateLimitExceeded, ratelimit.too_many_requests)
    # slowapi counts the limits of a decorated endpoint in the order they were added: the
    # stricter one first, so that its numbers are the ones in the headers of a login.
    general = limiter.shared_limit(f"{settings.rate_limit_per_minute}/minute", scope=ratelimit.GENERAL_SCOPE)
    strict = limiter.shared_limit(f"{settings.auth_rate_limit_per_minute}/minute",
                                  scope=ratelimit.STRICT_SCOPE, key_func=ratelimit.client_ip)
    # The first route: proxied paths are the most asked for, and disjoint from the gateway's own.
    app.router.routes.append(proxy.ProxyRoute(gateway, general=general(proxy.forward),
                                              strict=general(strict(proxy.forward_auth))))
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(telegram.router)
    app.include_router(docs.router)
    app.include_router(metrics.router)          # /metrics, as on every process
    tracing.instrument_app(app, "gateway")
    return app
