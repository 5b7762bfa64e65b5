"""The revocation list while Redis cannot be asked: the last copy answers, for a bounded time."""
import math
import time

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from shared.auth import RedisRevocationList


class _DownRedis:
    async def exists(self, key: str) -> int:
        raise RedisConnectionError("Connection refused")


async def test_the_last_copy_answers_within_the_grace_and_not_after():
    revocations = RedisRevocationList(_DownRedis(), grace_seconds=60)
    revocations._copy = {"revoked-before": math.inf}       # as mirror() keeps it while live
    revocations._lose_copy()                                 # what mirror() does when Redis goes
    assert await revocations.is_revoked("revoked-before") is True
    assert await revocations.is_revoked("anyone-else") is False
    revocations._lost_at = time.monotonic() - 61
    with pytest.raises(RedisConnectionError):
        await revocations.is_revoked("anyone-else")


async def test_without_a_copy_ever_made_redis_down_is_an_error():
    with pytest.raises(RedisConnectionError):
        await RedisRevocationList(_DownRedis(), grace_seconds=60).is_revoked("x")
