"""Login throttling counters (on an in-process Redis)."""
import fakeredis
import pytest

from services.user.throttle import LoginThrottle
from shared.errors import RateLimited


@pytest.fixture
def throttle():
    redis = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    return LoginThrottle(redis, window=600, max_per_account=3, max_per_ip=5)


async def test_an_account_is_locked_after_its_failures_and_the_answer_says_when_to_retry(throttle):
    for _ in range(3):
        await throttle.check("10.0.0.1", "anna@example.com")
        await throttle.record_failure("10.0.0.1", "anna@example.com")
    with pytest.raises(RateLimited) as refused:
        await throttle.check("10.0.0.2", "anna@example.com")
    assert 0 < int(refused.value.headers["Retry-After"]) <= 600
    await throttle.check("10.0.0.2", "boris@example.com")


async def test_an_address_is_locked_after_failures_on_many_accounts(throttle):
    for i in range(5):
        await throttle.record_failure("10.0.0.9", f"user{i}@example.com")
    with pytest.raises(RateLimited, match="your address"):
        await throttle.check("10.0.0.9", "new@example.com")


async def test_a_successful_login_clears_the_account_counter(throttle):
    for _ in range(2):
        await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.clear_account("anna@example.com")
    await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.record_failure("10.0.0.1", "anna@example.com")
    await throttle.check("10.0.0.1", "anna@example.com")
