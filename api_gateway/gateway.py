"""What a running gateway holds: upstreams, breakers, the token checker, health and OpenAPI
aggregation. Built from settings (and the embedded runtime) at start-up."""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx

from api_gateway.balancer import InstancePool
from api_gateway.breakers import BreakerRegistry, Clock
from api_gateway.health import HealthAggregator
from api_gateway.openapi import OpenAPIMerger
from api_gateway.settings import GatewaySettings
from api_gateway.upstream import AsgiTransport, HttpTransport, Timeouts, Transport, Upstream
from shared.auth import JWKSClient, RedisRevocationList, TokenVerifier
from shared.runtime import Runtime, make_runtime
from shared.settings import SERVICE_NAMES

log = logging.getLogger(__name__)


class Gateway:
    def __init__(self, settings: GatewaySettings, runtime: Runtime | None = None, *,
                 clock: Clock = time.time) -> None:
        self.settings = settings
        self._clock = clock
        self._given_runtime = runtime
        self.runtime: Runtime | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        settings = self.settings
        rt = self.runtime = self._given_runtime or make_runtime(settings)
        timeouts = Timeouts(connect=settings.upstream_connect_timeout, read=settings.upstream_read_timeout)
        self.upstreams = {name: self._upstream(name, rt, timeouts) for name in SERVICE_NAMES}
        shared_redis = rt.redis if settings.mode == "mesh" else None
        self.breakers = BreakerRegistry(
            list(SERVICE_NAMES), failure_threshold=settings.circuit_breaker_failure_threshold,
            recovery_timeout=settings.circuit_breaker_recovery_timeout, redis=shared_redis,
            sync_interval=settings.breaker_sync_interval,
            trial_ttl=settings.upstream_read_timeout + settings.upstream_connect_timeout, clock=self._clock)
        keys = rt.key_source or JWKSClient(settings.jwks_location(), transport=rt.transports.get("user"))
        revocations = RedisRevocationList(rt.redis)
        self.authenticator = TokenVerifier(keys, issuer=settings.jwt_issuer, audience=settings.jwt_audience,
                                           revocations=revocations, cache_size=settings.token_cache_size)
        self.health = HealthAggregator(self.upstreams, timeout=settings.health_timeout,
                                       cache_seconds=settings.health_cache_seconds)
        self.openapi = OpenAPIMerger(self.upstreams, cache_seconds=settings.openapi_cache_seconds)
        if shared_redis is not None:
            self._tasks.append(asyncio.create_task(revocations.mirror(), name="gateway:revocations"))
            await self.breakers.sync_once()
            self._tasks.append(asyncio.create_task(self.breakers.sync_forever(), name="gateway:breakers"))

    def _upstream(self, name: str, rt: Runtime, timeouts: Timeouts) -> Upstream:
        settings = self.settings
        in_process = rt.transports.get(name)
        transport: Transport
        if in_process is not None:
            if not isinstance(in_process, httpx.ASGITransport):
                raise TypeError(f"embedded transport of {name} must be an httpx.ASGITransport")
            transport, urls = AsgiTransport(in_process.app, timeouts), [f"http://{name}"]
        else:
            transport = HttpTransport(timeouts, settings.upstream_max_concurrent)
            urls = settings.urls_of(name)
        pool = InstancePool(name, urls, ejection_seconds=settings.upstream_ejection_seconds,
                            errors_to_eject=settings.upstream_ejection_after_errors)
        return Upstream(name, pool, transport, settings.upstream_max_concurrent)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for upstream in getattr(self, "upstreams", {}).values():
            with contextlib.suppress(Exception):
                await upstream.transport.aclose()
        if self._given_runtime is None and self.runtime is not None:
            await self.runtime.close()

    async def ping_redis(self) -> bool:
        assert self.runtime is not None
        return bool(await self.runtime.redis.ping())

    def describe_services(self) -> dict[str, Any]:
        """For admins: instances, breaker state and load of every service."""
        health = self.health.last()
        return {name: {"instances": up.pool.describe(),
                       "health": health.get(name, {}).get("status", "unknown"),
                       "breaker": self.breakers.describe(name),
                       "in_flight": up.in_flight, "max_concurrent": up.max_concurrent}
                for name, up in self.upstreams.items()}
