"""The gateway in-process in front of small fake services (embedded mode, in-memory Redis)."""
from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from api_gateway.app import create_app
from api_gateway.settings import GatewaySettings
from shared.bus import InMemoryBus
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.support import FakeClock, TestKeys, running
from tests.upstream_app import create_app as create_upstream


def echo_service() -> Any:
    return create_upstream()


@contextlib.asynccontextmanager
async def gateway(services: dict[str, Any], keys: TestKeys, *, clock: FakeClock | None = None,
                  **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
    """A client of a gateway whose `services` are in-process apps; the others are unreachable URLs.
    The breakers run on `clock` when one is given."""
    defaults: dict[str, Any] = {"environment": "test", "log_json": False,
                                "service_urls": {"user": ["http://127.0.0.1:9"]}}
    settings = GatewaySettings(**{**defaults, **overrides})
    runtime = Runtime(bus=InMemoryBus(), redis=make_redis(None), key_source=keys,
                      transports={name: httpx.ASGITransport(app) for name, app in services.items()})
    app: FastAPI = create_app(settings, runtime, **({"clock": clock.timestamp} if clock else {}))
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def release(app: Any, hold: str) -> None:
    """Let the requests a fake service holds under `hold` answer."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://direct") as client:
        (await client.post("/_release", params={"hold": hold})).raise_for_status()


async def requests_seen(app: Any) -> int:
    """How many requests a fake service has answered, asked directly (not through the gateway)."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://direct") as client:
        return (await client.get("/_stats")).json()["requests"]
