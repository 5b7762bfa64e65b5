"""Liveness and readiness endpoints.

Readiness reports each dependency of the process. Only the database is required: without it
a service can answer nothing (503, taken out of rotation). The broker and Redis are
dependencies a process keeps working without for a while (the outbox holds events until the
broker is back; tokens are checked against the last revocation copy, rate limits are counted
per process), so their loss makes the process `degraded`, still ready (200), and says so.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[bool]]
REQUIRED = frozenset({"database"})

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/health/ready")
async def ready(request: Request) -> JSONResponse:
    body = await run_checks(getattr(request.app.state, "ready_checks", {}))
    status = overall(body)
    return JSONResponse({"status": status, "checks": body}, status_code=503 if status == "down" else 200)


async def run_checks(checks: dict[str, Check]) -> dict[str, dict[str, object]]:
    """Every check at once, each with its outcome and latency (a check never raises here)."""
    results = await asyncio.gather(*(_timed(check) for check in checks.values()))
    return dict(zip(checks, results))


def overall(checks: dict[str, dict[str, object]]) -> str:
    """`down` when a required dependency is down, `degraded` when another one is, else `ok`."""
    failed = {name for name, result in checks.items() if result["status"] != "ok"}
    if failed & REQUIRED:
        return "down"
    return "degraded" if failed else "ok"


async def _timed(check: Check) -> dict[str, object]:
    started = time.perf_counter()
    try:
        ok = await asyncio.wait_for(check(), timeout=2.0)
    except Exception as exc:  # boundary: a readiness probe reports, never raises
        return {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
    return {"status": "ok" if ok else "down",
            "latency_ms": round((time.perf_counter() - started) * 1000, 2)}
