"""Redis in mesh mode; an in-process Redis (fakeredis) in embedded mode, with the same API."""
from __future__ import annotations

from typing import Any

import redis.asyncio as redis


def make_redis(url: str | None) -> Any:
    if url:
        return redis.from_url(url, decode_responses=True)
    import fakeredis
    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
