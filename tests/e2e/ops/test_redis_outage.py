"""Redis stops for a few seconds under a gateway and a service in mesh mode: authenticated
reads go on from the processes' last revocation copy, with no 5xx, breakers closed; a token
revoked before the outage stays refused."""
from __future__ import annotations

import time
import uuid

import httpx
import jwt
import redis.asyncio as aioredis

from shared.auth import REVOCATIONS_CHANNEL
from tests.mesh import Mesh
from tests.support import TestKeys, eventually

MIRRORED = 'repitbot_revocations_mirrored{channel="revoked:jti"} 1.0'


async def test_reads_keep_working_while_redis_is_down(servers_with_own_redis, own_redis):
    keys = TestKeys()
    teacher = keys.headers(uuid.uuid4(), "teacher")
    revoked = keys.token(uuid.uuid4(), "teacher")
    with Mesh(servers_with_own_redis, keys=keys) as mesh:
        lesson = mesh.start_services("lesson")[0]
        gateway = mesh.start_gateway(env={"HEALTH_CACHE_SECONDS": "0", "HEALTH_TIMEOUT": "1"})
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10, trust_env=False) as client:
            for process in (lesson, gateway):                    # both hold a live copy
                await eventually(lambda p=process: MIRRORED in httpx.get(p.url + "/metrics").text)
            await _revoke(own_redis.url, revoked)
            await eventually(lambda: _status(client, revoked, 401))
            assert (await client.get("/api/v1/lessons", headers=teacher)).status_code == 200

            own_redis.stop()
            stopped_at = time.monotonic()
            await eventually(lambda: _redis_down_in_health(client))
            noticed = time.monotonic() - stopped_at
            answers, latencies = [], []
            for _ in range(40):
                started = time.perf_counter()
                answers.append((await client.get("/api/v1/lessons", headers=teacher)).status_code)
                latencies.append(time.perf_counter() - started)
            still_revoked = (await client.get("/api/v1/lessons",
                                              headers={"Authorization": f"Bearer {revoked}"})).status_code
            during = (await client.get("/health")).json()

            own_redis.start()
            restarted_at = time.monotonic()
            await eventually(lambda: _health_ok(client), timeout=30)
            recovered = time.monotonic() - restarted_at
            after = (await client.get("/api/v1/lessons", headers=teacher)).status_code
    print(f"\nredis outage: noticed in {noticed:.2f} s; {len(answers)} reads during it, statuses "
          f"{sorted(set(answers))}, median {sorted(latencies)[len(latencies) // 2] * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.1f} ms; health ok {recovered:.2f} s after Redis was back")
    assert answers == [200] * 40
    assert still_revoked == 401
    assert during["status"] == "degraded"
    assert during["gateway"]["checks"]["redis"]["status"] == "down"
    assert during["services"]["lesson"]["dependencies"]["redis"] == "down"
    assert all(service["breaker"] == "closed" for service in during["services"].values())
    assert after == 200


async def _revoke(url: str, token: str) -> None:
    """As the user service does at logout: the key, and the message to every copy."""
    claims = jwt.decode(token, options={"verify_signature": False})
    client = aioredis.from_url(url, decode_responses=True)
    try:
        await client.set(f"revoked:jti:{claims['jti']}", "1", ex=900)
        await client.publish(REVOCATIONS_CHANNEL, f"{claims['jti']} {time.time() + 900}")
    finally:
        await client.aclose()


async def _status(client: httpx.AsyncClient, token: str, expected: int) -> bool:
    response = await client.get("/api/v1/lessons", headers={"Authorization": f"Bearer {token}"})
    return response.status_code == expected


async def _redis_down_in_health(client: httpx.AsyncClient) -> bool:
    body = (await client.get("/health")).json()
    return (body["gateway"]["checks"]["redis"]["status"] == "down"
            and body["services"]["lesson"]["dependencies"].get("redis") == "down")


async def _health_ok(client: httpx.AsyncClient) -> bool:
    body = (await client.get("/health")).json()
    return body["services"]["lesson"]["status"] == "ok" and body["gateway"]["status"] == "ok"
