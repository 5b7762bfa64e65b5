"""Rate limits with slowapi: RATE_LIMIT_PER_MINUTE per user (per client IP when anonymous) on
every proxied path, and AUTH_RATE_LIMIT_PER_MINUTE per client IP on login and registration.

The two proxy endpoints carry slowapi's `shared_limit` decorators (`app.py`): a shared scope
makes every proxied path draw on one budget, and login and registration on a second one as
well. slowapi calls `rate_limit_key`, counts through the `limits` storage (Redis in mesh mode,
so that gateway instances share the count; memory in embedded mode) and raises
RateLimitExceeded, which `too_many_requests` answers with a problem+json 429. The limiter writes
the IETF RateLimit headers on every limited response. (slowapi's ASGI middleware would only add
default limits to undecorated routes: the gateway's own endpoints, which are not limited.)

The strategy is the moving window: the 101st request within any 60 seconds is refused, with no
reset at a window boundary (the fixed window and the sliding window counter cost as many Redis
round trips here, so they would buy nothing). slowapi counts synchronously, so in mesh mode the event loop waits
for each Redis round trip; slowapi makes two per request (count, then read the window for the
headers), `ReportingMovingWindow` makes them one (`bench/gateway.py` measures the cost,
docs/benchmarks.md). If Redis cannot be reached, each gateway counts in memory until it can again.
"""
from __future__ import annotations

import logging
import math
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem, WindowStats
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter
from prometheus_client import Counter
from slowapi import Limiter
from slowapi.errors import RateLimitExceeded
from starlette.requests import Request
from starlette.responses import Response

from api_gateway.settings import GatewaySettings
from shared.addresses import client_address
from shared.errors import problem

log = logging.getLogger(__name__)
REJECTIONS = Counter("repitbot_gateway_rate_limited_total", "Requests refused with 429", ["limit"])
STRATEGY = "moving-window"
GENERAL_SCOPE, STRICT_SCOPE = "all", "strict"
# A Redis that does not answer must not hold the event loop for long: past this, the limiter
# counts in memory and tries Redis again a while later. Loose enough for a busy machine, where
# a falsely given-up Redis would split the count between gateways for a while.
REDIS_TIMEOUT_SECONDS = 1.0


# limits' moving window (a list of request timestamps, newest first, at most `limit` long) as in
# its own acquire script, then the window as its own read script reports it, in one call:
# {1 when acquired, entries within the window, the oldest of them}.
ACQUIRE_AND_REPORT = """
local now, limit, expiry, cost = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local since = now - expiry
local entry = redis.call('lindex', KEYS[1], limit - cost)
local acquired = cost <= limit and not (entry and tonumber(entry) >= since)
if acquired then
    for _ = 1, cost do redis.call('lpush', KEYS[1], ARGV[1]) end
    redis.call('ltrim', KEYS[1], 0, limit - 1)
    redis.call('expire', KEYS[1], expiry)
end
local low, high, last = 0, redis.call('llen', KEYS[1]) - 1, -1
while low <= high do
    local mid = math.floor((low + high) / 2)
    if tonumber(redis.call('lindex', KEYS[1], mid)) >= since then last, low = mid, mid + 1 else high = mid - 1 end
end
return {acquired and 1 or 0, last + 1, last >= 0 and redis.call('lindex', KEYS[1], last) or ARGV[1]}
"""
# The window as the request that was just counted left it (a request runs in its own context).
_counted: ContextVar[tuple[str, WindowStats] | None] = ContextVar("rate_limit_counted", default=None)


class ReportingMovingWindow(MovingWindowRateLimiter):
    """limits' moving window on Redis that reads the window in the round trip that counts:
    slowapi asks for the window right after counting (for the headers), which would otherwise
    hold the event loop for a second Redis round trip."""

    def __init__(self, storage: RedisStorage) -> None:
        super().__init__(storage)
        self._script = storage.get_connection().register_script(ACQUIRE_AND_REPORT)

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        key, expiry = item.key_for(*identifiers), item.get_expiry()
        acquired, count, oldest = self._script([self.storage.prefixed_key(key)],
                                               [time.time(), item.amount, expiry, cost])
        _counted.set((key, WindowStats(float(oldest) + expiry, item.amount - count)))
        return bool(acquired)

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        key = item.key_for(*identifiers)
        counted = _counted.get()
        if counted is not None and counted[0] == key:
            return counted[1]
        return super().get_window_stats(item, *identifiers)


@dataclass(frozen=True)
class Quota:
    limit: int
    remaining: int
    reset_after: int          # seconds until the oldest counted request leaves the window

    def headers(self, *, refused: bool) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining),
                   "RateLimit-Reset": str(self.reset_after)}
        if refused:
            headers["Retry-After"] = str(max(1, self.reset_after))
        return headers


class GatewayLimiter(Limiter):
    """slowapi's Limiter writing the headers the platform's clients read (the IETF RateLimit
    fields): slowapi's own give the reset as a timestamp and add Retry-After to every answer."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if isinstance(self._storage, RedisStorage):
            self._limiter = ReportingMovingWindow(self._storage)     # slowapi's strategy object

    def quota(self, current_limit: Any) -> Quota | None:
        """Where the caller stands on `current_limit`, the limit slowapi reports for a request
        (`request.state.view_rate_limit`: the one refused, else the first checked)."""
        if current_limit is None:
            return None
        item, identifiers = current_limit
        try:
            reset_at, remaining = self.limiter.get_window_stats(item, *identifiers)
        except Exception:  # boundary: a Redis failure costs the headers, not the answer
            log.exception("rate limit storage unavailable; answered without rate limit headers")
            return None
        return Quota(item.amount, max(0, remaining), max(0, math.ceil(reset_at - time.time())))

    async def ping(self) -> bool:
        """Whether the limiter can count (in memory, while it has fallen back from Redis)."""
        return bool(self.limiter.storage.check())

    def _inject_headers(self, response: Response, current_limit: Any) -> Response:
        """Called by slowapi's decorators on every limited response."""
        quota = self.quota(current_limit) if self._headers_enabled else None
        if quota is not None:
            # a service's own 429 (the login throttle) keeps its Retry-After: it knows the wait
            own = response.status_code == 429 and "retry-after" not in response.headers
            headers = quota.headers(refused=own)
            response.headers.update(headers)
        return response


def make_limiter(settings: GatewaySettings) -> GatewayLimiter:
    uri = settings.limits_storage_uri()
    options: dict[str, Any] = {}
    if not uri.startswith("memory"):
        options = {"key_prefix": "gateway:ratelimit", "socket_timeout": REDIS_TIMEOUT_SECONDS,
                   "socket_connect_timeout": REDIS_TIMEOUT_SECONDS}
    return GatewayLimiter(key_func=rate_limit_key, strategy=STRATEGY, storage_uri=uri,
                          storage_options=options, headers_enabled=True, swallow_errors=True,
                          in_memory_fallback_enabled=True)


def rate_limit_key(request: Request) -> str:
    """The authenticated user (the proxy route put the principal in the request state), else the IP."""
    principal = request.state.principal
    return f"user:{principal.id}" if principal is not None else client_ip(request)


def client_ip(request: Request) -> str:
    """The client's address, through X-Forwarded-For only from TRUSTED_PROXIES."""
    peer = request.client.host if request.client else "unknown"
    trusted = tuple(request.app.state.settings.trusted_proxies)
    return "ip:" + client_address(peer, request.headers.get("x-forwarded-for", ""), trusted)


async def too_many_requests(request: Request, exc: RateLimitExceeded) -> Response:
    REJECTIONS.labels(exc.limit.scope).inc()
    quota = request.app.state.limiter.quota(request.state.view_rate_limit)
    wait = quota.reset_after if quota else 60
    response = problem(429, f"Too many requests; try again in {max(1, wait)} s")
    if quota is not None:
        response.headers.update(quota.headers(refused=True))
    return response
