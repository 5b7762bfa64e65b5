import uuid

from tests.support import TestKeys
from tests.unit.gateway.helpers import echo_service, gateway

KEYS = TestKeys()


async def test_limited_responses_carry_the_ratelimit_headers_and_the_excess_is_429():
    headers = KEYS.headers(uuid.uuid4(), "student")
    async with gateway({"lesson": echo_service()}, KEYS, rate_limit_per_minute=3) as client:
        answers = [await client.get("/api/v1/lessons", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["2", "1", "0", "0"]
    assert all(a.headers["ratelimit-limit"] == "3" for a in answers)
    assert all("retry-after" not in a.headers for a in answers[:3])
    refused = answers[-1]
    assert 0 < int(refused.headers["retry-after"]) <= 60
    assert 0 < int(refused.headers["ratelimit-reset"]) <= 60
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 429 and problem["title"] == "Too many requests"
    assert problem["correlation_id"] == refused.headers["x-correlation-id"]


async def test_refusals_at_the_gateway_carry_the_ratelimit_headers_too():
    async with gateway({"lesson": echo_service()}, KEYS, rate_limit_per_minute=5) as client:
        missing = await client.get("/api/v1/lessons")
        bad = await client.get("/api/v1/lessons", headers={"Authorization": "Bearer not.a.token"})
    assert missing.status_code == bad.status_code == 401
    assert [missing.headers["ratelimit-remaining"], bad.headers["ratelimit-remaining"]] == ["4", "3"]


async def test_each_user_has_a_budget_of_their_own():
    first, second = KEYS.headers(uuid.uuid4(), "student"), KEYS.headers(uuid.uuid4(), "student")
    async with gateway({"lesson": echo_service()}, KEYS, rate_limit_per_minute=1) as client:
        assert (await client.get("/api/v1/lessons", headers=first)).status_code == 200
        assert (await client.get("/api/v1/lessons", headers=first)).status_code == 429
        assert (await client.get("/api/v1/lessons", headers=second)).status_code == 200


async def test_anonymous_callers_are_counted_per_client_ip():
    async with gateway({"user": echo_service()}, KEYS, rate_limit_per_minute=2,
                       auth_rate_limit_per_minute=100) as client:
        codes = [(await client.get("/.well-known/jwks.json")).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def test_logins_also_draw_on_the_general_budget_of_the_client_ip():
    async with gateway({"user": echo_service()}, KEYS, rate_limit_per_minute=2,
                       auth_rate_limit_per_minute=10) as client:
        logins = [(await client.post("/auth/login", json={})).status_code for _ in range(2)]
        jwks = await client.get("/.well-known/jwks.json")
    assert logins == [200, 200] and jwks.status_code == 429


async def test_without_redis_each_gateway_counts_in_memory():
    headers = KEYS.headers(uuid.uuid4(), "student")
    async with gateway({"lesson": echo_service()}, KEYS, rate_limit_per_minute=2,
                       rate_limit_storage_url="redis://127.0.0.1:9/0") as client:
        answers = [await client.get("/api/v1/lessons", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert [a.headers["ratelimit-remaining"] for a in answers] == ["1", "0", "0"]


async def test_login_and_register_have_a_stricter_limit():
    async with gateway({"user": echo_service()}, KEYS, auth_rate_limit_per_minute=2) as client:
        logins = [await client.post("/auth/login", json={}) for _ in range(2)]
        register = await client.post("/auth/register", json={})
        jwks = await client.get("/.well-known/jwks.json")
    assert [r.status_code for r in logins] == [200, 200] and logins[0].headers["ratelimit-limit"] == "2"
    assert register.status_code == 429
    assert jwks.status_code == 200 and jwks.headers["ratelimit-limit"] == "100"
