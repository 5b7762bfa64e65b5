"""The token revocation list on real Redis, and the in-memory copy that the gateway and the
services keep of it in mesh mode."""
import asyncio
import contextlib
import time
import uuid

import pytest
import redis.asyncio as redis

from shared.auth import RedisRevocationList
from tests.support import eventually


class CountingRedis:
    """A real Redis client that counts the revocation lookups it is asked to make."""

    def __init__(self, url: str) -> None:
        self.name = f"mirror-{uuid.uuid4().hex[:8]}"
        self._redis = redis.from_url(url, decode_responses=True, client_name=self.name)
        self.lookups = 0

    def __getattr__(self, name: str):
        return getattr(self._redis, name)

    async def exists(self, *keys: str) -> int:
        self.lookups += 1
        return await self._redis.exists(*keys)


@pytest.fixture
async def writer(servers):
    client = redis.from_url(servers.redis_url, decode_responses=True)
    yield RedisRevocationList(client)
    await client.aclose()


@pytest.fixture
async def mirrored(servers):
    """A revocation list whose mirror runs in the background; and its Redis client."""
    client = CountingRedis(servers.redis_url)
    revocations = RedisRevocationList(client)
    task = asyncio.create_task(revocations.mirror(retry_seconds=0.5))
    yield revocations, client
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await client.aclose()


def _jti() -> str:
    return uuid.uuid4().hex


async def test_the_copy_holds_revocations_made_before_and_after_it_started(writer, servers):
    before = _jti()
    await writer.revoke(before, int(time.time()) + 600)
    client = CountingRedis(servers.redis_url)
    revocations = RedisRevocationList(client)
    task = asyncio.create_task(revocations.mirror())
    try:
        await eventually(lambda: revocations.mirrored)
        after = _jti()
        await writer.revoke(after, int(time.time()) + 600)
        await eventually(lambda: revocations.is_revoked(after), timeout=2)
        assert await revocations.is_revoked(before)
        assert not await revocations.is_revoked(_jti())
        assert client.lookups == 0              # every answer came from memory
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()


async def test_while_the_copy_is_lost_redis_is_asked_and_the_copy_catches_up(writer, mirrored, servers):
    revocations, client = mirrored
    await eventually(lambda: revocations.mirrored)
    admin = redis.from_url(servers.redis_url, decode_responses=True)
    try:
        for connection in await admin.client_list(_type="pubsub"):
            if connection["name"] == client.name:
                await admin.client_kill_filter(_id=connection["id"])
    finally:
        await admin.aclose()
    await eventually(lambda: not revocations.mirrored, interval=0.01)

    while_lost = _jti()
    await writer.revoke(while_lost, int(time.time()) + 600)   # published to nobody here
    assert await revocations.is_revoked(while_lost)
    assert client.lookups >= 1                                  # asked Redis

    await eventually(lambda: revocations.mirrored)
    lookups = client.lookups
    assert await revocations.is_revoked(while_lost)             # read back with the whole list
    assert client.lookups == lookups


async def test_the_process_that_revokes_sees_it_at_once(mirrored):
    revocations, client = mirrored
    await eventually(lambda: revocations.mirrored)
    jti = _jti()
    await revocations.revoke(jti, int(time.time()) + 600)
    assert await revocations.is_revoked(jti)        # not waiting for its own publication
    assert client.lookups == 0


async def test_a_revocation_lasts_as_long_as_the_token(writer, servers):
    jti = _jti()
    await writer.revoke(jti, int(time.time()) + 90)
    client = redis.from_url(servers.redis_url, decode_responses=True)
    try:
        ttl = await client.ttl("revoked:jti:" + jti)
    finally:
        await client.aclose()
    assert 85 <= ttl <= 90


async def test_every_token_of_a_user_is_refused_by_a_live_copy_and_by_a_fresh_one(writer, mirrored, servers):
    revocations, client = mirrored
    await eventually(lambda: revocations.mirrored)
    user, now = str(uuid.uuid4()), time.time()
    await writer.revoke_user(user, revoked_at=now, kept_until=now + 600)
    await eventually(lambda: revocations.is_user_revoked(user, int(now) - 60))
    assert await revocations.is_user_revoked(user, int(now) + 5) is False       # a token issued later
    assert await revocations.is_user_revoked(str(uuid.uuid4()), int(now) - 60) is False

    fresh_client = redis.from_url(servers.redis_url, decode_responses=True)
    fresh = RedisRevocationList(fresh_client)
    assert await fresh.is_user_revoked(user, int(now) - 60)                      # asked of Redis
    task = asyncio.create_task(fresh.mirror())
    try:
        await eventually(lambda: fresh.mirrored)
        assert await fresh.is_user_revoked(user, int(now) - 60)                  # read into the copy
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await fresh_client.aclose()
