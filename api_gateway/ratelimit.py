"""Rate limits per user (or per client IP when anonymous), shared by gateway instances via Redis.

slowapi attaches limits to route functions with decorators and counts through the *sync*
`limits` API. The gateway has no route functions for proxied paths (one pure-ASGI catch-all)
and must not block its event loop on Redis, so it uses the library slowapi is built on,
`limits`, directly: its asyncio moving-window strategy and storages (`memory://` embedded,
`async+redis://` mesh) and slowapi's limit-string syntax ("100/minute"). The moving window
makes "the 101st request within any 60 seconds" exact, with no reset at a minute boundary.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from prometheus_client import Counter

log = logging.getLogger(__name__)
REJECTIONS = Counter("repitbot_gateway_rate_limited_total", "Requests refused with 429", ["limit"])


@dataclass(frozen=True)
class Quota:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int          # seconds until the oldest request leaves the window

    def headers(self) -> list[tuple[bytes, bytes]]:
        pairs = [(b"ratelimit-limit", str(self.limit).encode()),
                 (b"ratelimit-remaining", str(self.remaining).encode()),
                 (b"ratelimit-reset", str(self.reset_after).encode())]
        if not self.allowed:
            pairs.append((b"retry-after", str(max(1, self.reset_after)).encode()))
        return pairs


def make_storage(uri: str) -> Storage:
    if uri.startswith("memory"):
        return MemoryStorage()
    return RedisStorage(uri if uri.startswith("async+") else "async+" + uri,
                        implementation="redispy", key_prefix="gateway:ratelimit")


class RateLimiter:
    def __init__(self, storage: Storage, *, per_minute: int, strict_per_minute: int) -> None:
        self._strategy = MovingWindowRateLimiter(storage)
        self._storage = storage
        self._general = parse(f"{per_minute}/minute")
        self._strict = parse(f"{strict_per_minute}/minute")

    async def check(self, key: str, *, client_ip: str, strict: bool) -> Quota | None:
        """Count one request of `key`; with `strict`, also against the stricter per-IP limit.
        None when the counters are unreachable: the gateway then lets the request through."""
        try:
            quota = await self._hit(self._general, "all", key)
            if strict and quota.allowed:
                strict_quota = await self._hit(self._strict, "strict", "ip:" + client_ip)
                if not strict_quota.allowed or strict_quota.remaining < quota.remaining:
                    quota = strict_quota
        except Exception:  # boundary: a broken Redis must not take the whole API down
            log.exception("rate limit storage unavailable; request let through")
            return None
        return quota

    async def _hit(self, item, name: str, key: str) -> Quota:
        allowed = await self._strategy.hit(item, name, key)
        reset_at, remaining = await self._strategy.get_window_stats(item, name, key)
        if not allowed:
            REJECTIONS.labels(name).inc()
        return Quota(allowed, item.amount, max(0, remaining),
                     max(0, math.ceil(reset_at - time.time())))

    async def ping(self) -> bool:
        return await self._storage.check()
