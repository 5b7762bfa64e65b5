"""Liveness and readiness endpoints."""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    checks: dict[str, Check] = getattr(request.app.state, "ready_checks", {})
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    body = {name: result for name, result in zip(checks, results)}
    ok = all(r["status"] == "ok" for r in results)
    return JSONResponse({"status": "ok" if ok else "down", "checks": body}, status_code=200 if ok else 503)


async def _timed(check: Check) -> dict[str, object]:
    started = time.perf_counter()
    try:
        ok = await asyncio.wait_for(check(), timeout=2.0)
    except Exception as exc:  # boundary: a readiness probe reports, never raises
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"status": "ok" if ok else "down",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
