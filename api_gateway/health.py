"""`GET /health`: the platform as the gateway sees it, checked in parallel with a short timeout
and remembered for a moment so that a busy probe does not hammer the services.

Per service: its instances' readiness with their dependencies (database, broker, Redis), and
the state of its breaker. The platform is `ok` when everything is, `down` when no service
answers, and `degraded` otherwise: an instance down, a dependency down anywhere (the gateway's
own Redis included), or a breaker not closed. A service is `down` when none of its instances
answers; one whose instances answer not ready (a required dependency lost) is `degraded`.
Instance URLs are for admins only (`public`).
"""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

from api_gateway.balancer import Instance
from api_gateway.upstream import Upstream
from shared import context

MAX_READY_BODY = 16_384
WORST = {"ok": 0, "degraded": 1, "down": 2}


class HealthAggregator:
    def __init__(self, upstreams: dict[str, Upstream], *, timeout: float, cache_seconds: float,
                 breaker_state: Callable[[str], str] = lambda _: "closed") -> None:
        self._upstreams = upstreams
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._breaker_state = breaker_state
        self._checked_at = float("-inf")
        self._report: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def report(self, own_checks: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
        """The whole report; `own_checks` are the gateway's own dependencies."""
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._cache_seconds:
                names = list(self._upstreams)
                results = await asyncio.gather(*(self._service(self._upstreams[n]) for n in names))
                self._report = {"services": dict(zip(names, results))}
                self._checked_at = time.monotonic()
        services = self._report["services"]
        gateway = {"status": _worst(c["status"] for c in (own_checks or {}).values()), "checks": own_checks or {}}
        return {"status": _platform_status(services, gateway["status"]), "gateway": gateway, "services": services}

    def last(self) -> dict[str, Any]:
        return self._report.get("services", {})

    async def _service(self, upstream: Upstream) -> dict[str, Any]:
        instances = await asyncio.gather(*(self._instance(upstream, i) for i in upstream.pool.instances))
        # an instance that answers, even not ready (its database lost, say), is up and says why:
        # the service is degraded; it is down when no instance answers at all
        answering = [i for i in instances if "latency_ms" in i]
        breaker = self._breaker_state(upstream.name)
        dependencies: dict[str, str] = {}
        for instance in instances:
            for name, check in instance.get("checks", {}).items():
                dependencies[name] = _worst([dependencies.get(name, "ok"), check.get("status", "down")])
        if not answering:
            status = "down"
        else:
            status = _worst([*(i["status"] for i in instances), *dependencies.values(),
                             "ok" if breaker == "closed" else "degraded"])
            status = "degraded" if status == "down" else status
        best = min((i["latency_ms"] for i in answering), default=None)
        return {"status": status, "latency_ms": best, "breaker": breaker, "dependencies": dependencies,
                "instances": instances}

    async def _instance(self, upstream: Upstream, instance: Instance) -> dict[str, Any]:
        started = time.perf_counter()
        headers = [(b"x-correlation-id", context.current_correlation_id().encode())]
        body = b""
        try:
            async with asyncio.timeout(self._timeout):
                response = await upstream.transport.send("GET", instance.url, "/health/ready", headers, b"")
                try:
                    async for chunk in response.body:
                        if len(body) < MAX_READY_BODY:
                            body += chunk
                finally:
                    await response.close()
        except Exception as exc:  # boundary: a probe reports, never raises
            return {"url": instance.url, "status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
        latency = round((time.perf_counter() - started) * 1000, 2)
        checks = _checks_of(body)
        status = "down" if response.status != 200 else str(_ready_status(body))
        return {"url": instance.url, "status": status, "latency_ms": latency, "checks": checks}


def _ready_status(body: bytes) -> str:
    try:
        status = json.loads(body).get("status")
    except (ValueError, AttributeError):
        return "ok"      # a ready answer without a report of its own
    return status if status in WORST else "ok"


def _checks_of(body: bytes) -> dict[str, dict[str, Any]]:
    try:
        checks = json.loads(body).get("checks")
    except (ValueError, AttributeError):
        return {}
    return checks if isinstance(checks, dict) else {}


def _worst(statuses: Any) -> str:
    return max(statuses, key=lambda s: WORST.get(s, 2), default="ok")


def _platform_status(services: dict[str, Any], gateway_status: str) -> str:
    up = sum(1 for s in services.values() if s["status"] != "down")
    if up == 0:
        return "down"
    everything = [s["status"] for s in services.values()] + [gateway_status]
    return "ok" if all(s == "ok" for s in everything) else "degraded"


def public(report: dict[str, Any]) -> dict[str, Any]:
    """The report without instance URLs and errors: what anyone may see."""
    services = {name: {k: v for k, v in service.items() if k != "instances"}
                for name, service in report["services"].items()}
    return {**report, "services": services}
