"""`GET /health`: the readiness of every service behind the gateway, checked in parallel with a
short timeout and remembered for a moment so that a busy probe does not hammer the services."""
from __future__ import annotations

import asyncio
import time
from typing import Any

from api_gateway.balancer import Instance
from api_gateway.upstream import Upstream
from shared import context


class HealthAggregator:
    def __init__(self, upstreams: dict[str, Upstream], *, timeout: float, cache_seconds: float) -> None:
        self._upstreams = upstreams
        self._timeout = timeout
        self._cache_seconds = cache_seconds
        self._checked_at = float("-inf")
        self._report: dict[str, Any] = {}
        self._lock = asyncio.Lock()

    async def report(self) -> dict[str, Any]:
        async with self._lock:
            if time.monotonic() - self._checked_at >= self._cache_seconds:
                names = list(self._upstreams)
                results = await asyncio.gather(*(self._service(self._upstreams[n]) for n in names))
                services = dict(zip(names, results))
                up = sum(1 for s in services.values() if s["status"] == "ok")
                status = "ok" if up == len(services) else "down" if up == 0 else "degraded"
                self._report = {"status": status, "services": services}
                self._checked_at = time.monotonic()
        return self._report

    def last(self) -> dict[str, Any]:
        return self._report.get("services", {})

    async def _service(self, upstream: Upstream) -> dict[str, Any]:
        instances = await asyncio.gather(*(self._instance(upstream, i) for i in upstream.pool.instances))
        healthy = [i for i in instances if i["status"] == "ok"]
        best = min((i["latency_ms"] for i in healthy), default=None)
        status = "ok" if healthy else "down"
        return {"status": status, "latency_ms": best, "instances": instances}

    async def _instance(self, upstream: Upstream, instance: Instance) -> dict[str, Any]:
        started = time.perf_counter()
        headers = [(b"x-correlation-id", context.current_correlation_id().encode())]
        try:
            async with asyncio.timeout(self._timeout):
                response = await upstream.transport.send("GET", instance.url, "/health/ready", headers, b"")
                try:
                    async for _ in response.body:
                        pass
                finally:
                    await response.close()
        except Exception as exc:  # boundary: a probe reports, never raises
            return {"url": instance.url, "status": "down", "error": f"{type(exc).__name__}: {exc}"[:200]}
        latency = round((time.perf_counter() - started) * 1000, 2)
        status = "ok" if response.status == 200 else "down"
        return {"url": instance.url, "status": status, "latency_ms": latency}
