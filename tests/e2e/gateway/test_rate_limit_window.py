"""The gateway's moving window on a real Redis: counting a request and reading the window in one
round trip reports the same window as limits' own reading of it."""
import time
import uuid

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api_gateway.ratelimit import ReportingMovingWindow


def windows(servers):
    storage = storage_from_string(servers.redis_url, key_prefix=f"test:{uuid.uuid4().hex}")
    return ReportingMovingWindow(storage), MovingWindowRateLimiter(storage)


def test_the_window_read_while_counting_is_the_one_limits_reads(servers):
    ours, theirs = windows(servers)
    item = parse("3/minute")
    allowed, reported, read = [], [], []
    for _ in range(5):
        allowed.append(ours.hit(item, "user:1"))
        reported.append(ours.get_window_stats(item, "user:1"))
        read.append(theirs.get_window_stats(item, "user:1"))
    assert allowed == [True, True, True, False, False]
    assert [r.remaining for r in reported] == [r.remaining for r in read] == [2, 1, 0, 0, 0]
    assert all(abs(mine.reset_time - limits_own.reset_time) < 0.001 for mine, limits_own in zip(reported, read))


def test_a_request_is_allowed_again_once_the_oldest_leaves_the_window(servers):
    ours, theirs = windows(servers)
    item = parse("2/second")
    first = [ours.hit(item, "ip:1") for _ in range(3)]
    time.sleep(1.05)
    later = ours.hit(item, "ip:1")
    assert first == [True, True, False] and later
    assert ours.get_window_stats(item, "ip:1").remaining == theirs.get_window_stats(item, "ip:1").remaining == 1
