"""Login throttling: failed attempts counted per account and address, per address, and per
account from anywhere (a slower back-off), in Redis; in this process's memory while Redis is
away, so that a Redis outage costs the throttle its sharing between instances, never a 5xx."""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from shared.errors import RateLimited

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    window: int                 # seconds a failure is remembered
    per_account_address: int    # failures of one account from one address
    per_address: int            # failures from one address, any account
    backoff_after: int          # failures of one account from anywhere before the back-off starts
    backoff_max: int            # the longest wait the back-off imposes, in seconds


def backoff_seconds(failures: int, limits: Limits) -> int:
    """How long after its last failure an account may be tried again: nothing up to
    `backoff_after` failures, then 1, 2, 4 ... seconds, at most `backoff_max`."""
    if failures < limits.backoff_after:
        return 0
    return min(2 ** min(failures - limits.backoff_after, 30), limits.backoff_max)


class LocalCounters:
    """Counters with an expiry in this process's memory: the throttle's store while Redis is down."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}    # key -> (value, expires at)

    def read(self, key: str) -> tuple[float | None, float]:
        value, expires_at = self._values.get(key, (None, 0.0))
        if value is None or expires_at <= time.time():
            self._values.pop(key, None)
            return None, 0.0
        return value, expires_at - time.time()

    def incr(self, key: str, window: int) -> None:
        value, ttl = self.read(key)
        self._values[key] = ((value or 0) + 1, time.time() + (ttl if value is not None else window))

    def set(self, key: str, value: float, window: int) -> None:
        self._values[key] = (value, time.time() + window)

    def delete(self, *keys: str) -> None:
        for key in keys:
            self._values.pop(key, None)


LOCAL = LocalCounters()     # one per process, shared by the throttles of its requests


class LoginThrottle:
    """Refuses a login (429 with Retry-After) when its account failed too often from its address,
    its address failed too often, or its account failed too often from anywhere and the back-off
    since the last failure has not passed. A stranger's guesses from other addresses thus cost
    the owner at most a short back-off, never the 15-minute lock of their own address."""

    def __init__(self, redis: Any, limits: Limits, *, prefix: str = "user:login-failures:",
                 local: LocalCounters = LOCAL) -> None:
        self._redis = redis
        self._limits = limits
        self._prefix = prefix
        self._local = local

    def _keys(self, ip: str, email: str) -> dict[str, str]:
        return {"pair": f"{self._prefix}pair:{ip}:{email}", "ip": f"{self._prefix}ip:{ip}",
                "account": f"{self._prefix}account:{email}", "last": f"{self._prefix}last:{email}"}

    async def check(self, ip: str, email: str) -> None:
        """Raise RateLimited when a limit is reached; the Retry-After header and the text agree."""
        keys = self._keys(ip, email)
        values = await self._read(list(keys.values()))
        (pair, pair_ttl), (by_ip, ip_ttl), (account, _), (last, _) = values
        if pair is not None and pair >= self._limits.per_account_address:
            _refuse("this account from your address", pair_ttl)
        if by_ip is not None and by_ip >= self._limits.per_address:
            _refuse("your address", ip_ttl)
        wait = backoff_seconds(int(account or 0), self._limits)
        if wait and last is not None and last + wait > time.time():
            _refuse("this account", last + wait - time.time())

    async def record_failure(self, ip: str, email: str) -> None:
        keys, window = self._keys(ip, email), self._limits.window
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                for scope in ("pair", "ip", "account"):
                    pipe.incr(keys[scope])
                    pipe.expire(keys[scope], window, nx=True)
                pipe.set(keys["last"], repr(time.time()), ex=window)
                await pipe.execute()
        except (RedisError, OSError):
            _warn()
            for scope in ("pair", "ip", "account"):
                self._local.incr(keys[scope], window)
            self._local.set(keys["last"], time.time(), window)

    async def record_success(self, ip: str, email: str) -> None:
        """The owner got in from this address: their address's count of this account starts over."""
        key = self._keys(ip, email)["pair"]
        self._local.delete(key)
        try:
            await self._redis.delete(key)
        except (RedisError, OSError):
            _warn()

    async def _read(self, keys: list[str]) -> list[tuple[float | None, float]]:
        """(value, seconds to live) of each key, from Redis, else from this process's memory."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.get(key)
                    pipe.ttl(key)
                raw = await pipe.execute()
        except (RedisError, OSError):
            _warn()
            return [self._local.read(key) for key in keys]
        return [(float(raw[2 * i]) if raw[2 * i] is not None else None, float(raw[2 * i + 1]))
                for i in range(len(keys))]


def _refuse(scope_text: str, seconds: float) -> None:
    retry_after = max(1, math.ceil(seconds))
    raise RateLimited(f"Too many failed logins for {scope_text}; try again in {retry_after} s",
                      headers={"Retry-After": str(retry_after)})


def _warn() -> None:
    log.warning("login throttle: Redis unavailable; counting failures in this process")
