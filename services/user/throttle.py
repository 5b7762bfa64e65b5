"""Login throttling: failed attempts counted per client IP and per account in Redis."""
from __future__ import annotations

from typing import Any

from shared.errors import RateLimited


class LoginThrottle:
    """After `max_per_account` (or `max_per_ip`) failures within `window` seconds, logins from
    that account (or address) are refused with 429 until the window has passed."""

    def __init__(self, redis: Any, *, window: int, max_per_account: int, max_per_ip: int,
                 prefix: str = "user:login-failures:") -> None:
        self._redis = redis
        self._window = window
        self._limits = {"account": max_per_account, "ip": max_per_ip}
        self._prefix = prefix

    def _keys(self, ip: str, email: str) -> dict[str, str]:
        return {"account": f"{self._prefix}account:{email}", "ip": f"{self._prefix}ip:{ip}"}

    async def check(self, ip: str, email: str) -> None:
        """Raise RateLimited (with Retry-After) when either counter is at its limit."""
        keys = self._keys(ip, email)
        async with self._redis.pipeline(transaction=False) as pipe:
            for key in keys.values():
                pipe.get(key)
                pipe.ttl(key)
            values = await pipe.execute()
        for i, scope in enumerate(keys):
            count, ttl = values[2 * i], values[2 * i + 1]
            if count is not None and int(count) >= self._limits[scope]:
                retry_after = ttl if ttl and ttl > 0 else self._window
                scope_text = "this account" if scope == "account" else "your address"
                raise RateLimited(f"Too many failed logins for {scope_text}; try again in {retry_after} s",
                                  headers={"Retry-After": str(retry_after)})

    async def record_failure(self, ip: str, email: str) -> None:
        async with self._redis.pipeline(transaction=True) as pipe:
            for key in self._keys(ip, email).values():
                pipe.incr(key)
                pipe.expire(key, self._window, nx=True)
            await pipe.execute()

    async def clear_account(self, email: str) -> None:
        await self._redis.delete(self._keys("", email)["account"])
