"""Login throttling counters (on an in-process Redis, and in memory without one)."""
import fakeredis
import pytest

from services.user.throttle import Limits, LocalCounters, LoginThrottle, backoff_seconds
from shared.errors import RateLimited
from shared.redis_factory import make_redis

LIMITS = Limits(window=600, per_account_address=3, per_address=5, backoff_after=6, backoff_max=60)


@pytest.fixture
def throttle():
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return LoginThrottle(redis, LIMITS, local=LocalCounters())


async def test_an_account_is_locked_from_one_address_and_the_answer_says_when_to_retry(throttle):
    for _ in range(3):
        await throttle.check("10.0.0.1", "anna@example.com")
        await throttle.record_failure("10.0.0.1", "anna@example.com")
    with pytest.raises(RateLimited) as refused:
        await throttle.check("10.0.0.1", "anna@example.com")
    seconds = int(refused.value.headers["Retry-After"])
    assert 0 < seconds <= 600 and f"in {seconds} s" in refused.value.detail
    await throttle.check("10.0.0.2", "anna@example.com")      # the owner's own address
    await throttle.check("10.0.0.1", "boris@example.com")


async def test_an_address_is_locked_after_failures_on_many_accounts(throttle):
    for i in range(5):
        await throttle.record_failure("10.0.0.9", f"user{i}@example.com")
    with pytest.raises(RateLimited, match="your address"):
        await throttle.check("10.0.0.9", "new@example.com")


async def test_failures_from_many_addresses_start_a_short_backoff_for_the_account(throttle):
    for i in range(6):
        await throttle.record_failure(f"10.0.1.{i}", "anna@example.com")
    with pytest.raises(RateLimited, match="this account;") as refused:
        await throttle.check("10.0.2.1", "anna@example.com")
    assert int(refused.value.headers["Retry-After"]) <= 1


def test_the_backoff_doubles_up_to_its_maximum():
    assert [backoff_seconds(n, LIMITS) for n in (0, 5, 6, 7, 8, 12, 40)] == [0, 0, 1, 2, 4, 60, 60]


async def test_a_successful_login_clears_the_count_of_its_address(throttle):
    for _ in range(2):
        await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.record_success("10.0.0.1", "anna@example.com")
    await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.check("10.0.0.1", "anna@example.com")


async def test_without_redis_the_process_counts_and_nothing_raises_but_the_refusal():
    redis = make_redis("redis://127.0.0.1:9/0")     # nothing listens there
    throttle = LoginThrottle(redis, LIMITS, local=LocalCounters())
    try:
        for _ in range(3):
            await throttle.check("10.0.0.1", "anna@example.com")
            await throttle.record_failure("10.0.0.1", "anna@example.com")
        with pytest.raises(RateLimited):
            await throttle.check("10.0.0.1", "anna@example.com")
        await throttle.record_success("10.0.0.2", "anna@example.com")
        await throttle.check("10.0.0.2", "anna@example.com")
    finally:
        await redis.aclose()
