"""The gateway app: its own endpoints (FastAPI) with the proxy in front of them (pure ASGI)."""
from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api_gateway import api
from api_gateway.gateway import Gateway
from api_gateway.proxy import ProxyMiddleware
from api_gateway.settings import GatewaySettings
from shared import health, metrics
from shared.errors import install_problem_handlers
from shared.http import RequestContextMiddleware
from shared.logs import configure_logging
from shared.runtime import Runtime


def create_app(settings: GatewaySettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    if runtime is None:
        configure_logging(settings.log_level, json_output=settings.log_json)
    gateway = Gateway(settings, runtime)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        app.state.runtime = gateway.runtime
        app.state.verifier = gateway.authenticator
        app.state.ready_checks = {"redis": gateway.ping_redis, "rate_limits": gateway.limiter.ping}
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(title="RepitBot API gateway", version="1.0.0", lifespan=lifespan,
                  openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.service = "gateway"
    app.state.gateway = gateway
    # The last added is the outermost: correlation ID and metrics, then CORS, then the proxy.
    app.add_middleware(ProxyMiddleware, gateway=gateway)
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_credentials=True,
                       allow_methods=["*"], allow_headers=["*"],
                       expose_headers=["X-Correlation-ID", "Retry-After", "RateLimit-Limit",
                                       "RateLimit-Remaining", "RateLimit-Reset"])
    # Proxied bodies are streamed and limited by the services themselves: no JSON size cap here.
    app.add_middleware(RequestContextMiddleware, service="gateway", max_json_bytes=sys.maxsize)
    install_problem_handlers(app)
    app.include_router(health.router)
    app.include_router(api.router)
    app.include_router(metrics.router)          # /metrics, as on every process
    return app
