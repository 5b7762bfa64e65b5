"""The gateway's own endpoints: platform health, services and breakers, metrics, merged docs."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse

from shared import metrics
from shared.auth import require_roles
from shared.errors import NotFound

router = APIRouter()


@router.get("/health", tags=["gateway"], summary="Readiness of every service, with latency")
async def platform_health(request: Request) -> JSONResponse:
    report = await request.app.state.gateway.health.report()
    return JSONResponse(report, status_code=503 if report["status"] == "down" else 200)


@router.get("/gateway/services", tags=["gateway"], dependencies=[require_roles("admin")],
            summary="Instances, health, breaker state and load of every service (admin)")
async def services(request: Request) -> dict[str, Any]:
    return request.app.state.gateway.describe_services()


@router.post("/gateway/breakers/{service}/reset", tags=["gateway"], dependencies=[require_roles("admin")],
             summary="Close a service's circuit breaker (admin)")
async def reset_breaker(service: str, request: Request) -> dict[str, Any]:
    breakers = request.app.state.gateway.breakers
    if service not in breakers.breakers:
        raise NotFound(f"No service named {service!r}")
    await breakers.reset(service)
    return {"service": service, "breaker": breakers.describe(service)}


router.add_api_route("/gateway/metrics", metrics.metrics, methods=["GET"], tags=["gateway"],
                     summary="Prometheus metrics of the gateway")


@router.get("/openapi.json", include_in_schema=False)
async def merged_openapi(request: Request) -> JSONResponse:
    app = request.app
    own = get_openapi(title="RepitBot API", version=app.version, routes=app.routes,
                      description="Every service of RepitBot behind one gateway.")
    return JSONResponse(await app.state.gateway.openapi.document(own))
