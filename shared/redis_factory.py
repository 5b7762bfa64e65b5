"""The Redis client of a process: real Redis in mesh mode; in embedded mode an in-process Redis
(fakeredis) with the same API."""
from __future__ import annotations

from typing import Any

import fakeredis
import redis.asyncio as redis


def make_redis(url: str | None) -> Any:
    if url:
        return redis.from_url(url, decode_responses=True)
    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
