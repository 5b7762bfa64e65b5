import time
import uuid

import jwt
import pytest

from shared.auth import RedisRevocationList
from tests.support import AUDIENCE, ISSUER, TestKeys
from tests.unit.gateway.helpers import echo_service, gateway, requests_seen

KEYS = TestKeys()


def claims(**overrides) -> dict:
    now = int(time.time())
    return {"sub": str(uuid.uuid4()), "role": "student", "iss": ISSUER, "aud": AUDIENCE,
            "iat": now, "exp": now + 600, "jti": uuid.uuid4().hex, **overrides}


def forged() -> str:
    return TestKeys(kid=KEYS.kid).token(uuid.uuid4(), "admin")   # right kid, another key


def alg_none() -> str:
    return jwt.encode(claims(role="admin"), key=None, algorithm="none", headers={"kid": KEYS.kid})


BAD_TOKENS = {
    "forged": forged,
    "expired": lambda: KEYS.token(uuid.uuid4(), "student", ttl=-10),
    "alg none": alg_none,
    "wrong audience": lambda: KEYS.token(uuid.uuid4(), "student", aud="someone-else"),
    "wrong issuer": lambda: KEYS.token(uuid.uuid4(), "student", iss="evil"),
    "unknown key": lambda: TestKeys(kid="other").token(uuid.uuid4(), "student"),
    "garbage": lambda: "not.a.token",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
async def test_bad_tokens_are_refused_at_the_gateway(kind):
    upstream = echo_service()
    async with gateway({"lesson": upstream}, KEYS) as client:
        response = await client.get("/api/v1/lessons", headers={"Authorization": f"Bearer {BAD_TOKENS[kind]()}"})
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert await requests_seen(upstream) == 0      # the service never saw the bad request


async def test_a_revoked_token_is_refused_even_after_it_was_accepted():
    async with gateway({"lesson": echo_service()}, KEYS) as client:
        token = KEYS.token(uuid.uuid4(), "teacher")
        headers = {"Authorization": f"Bearer {token}"}
        first = await client.get("/api/v1/lessons", headers=headers)
        jti = jwt.decode(token, options={"verify_signature": False})["jti"]
        await RedisRevocationList(client.app.state.runtime.redis).revoke(jti, int(time.time()) + 600)
        second = await client.get("/api/v1/lessons", headers=headers)
    assert first.status_code == 200
    assert second.status_code == 401 and second.json()["detail"] == "Token has been revoked"


async def test_a_missing_token_is_refused_except_on_public_paths():
    async with gateway({"user": echo_service(), "payment": echo_service()}, KEYS) as client:
        missing = await client.get("/auth/me")
        login = await client.post("/auth/login", json={"email": "a@b.c", "password": "x"})
        jwks = await client.get("/.well-known/jwks.json")
        webhook = await client.post("/api/v1/payments/webhooks/yookassa", content=b"{}")
        not_a_webhook = await client.post("/api/v1/payments/top-ups", content=b"{}")
    assert missing.status_code == 401 and missing.headers["www-authenticate"].startswith("Bearer")
    assert [login.status_code, jwks.status_code, webhook.status_code] == [200, 200, 200]
    assert not_a_webhook.status_code == 401


async def test_the_calendar_feed_takes_the_token_from_the_query():
    async with gateway({"lesson": echo_service()}, KEYS) as client:
        token = KEYS.token(uuid.uuid4(), "student")
        feed = await client.get(f"/api/v1/lessons/calendar.ics?token={token}")
        elsewhere = await client.get(f"/api/v1/lessons?token={token}")
    assert feed.status_code == 200 and elsewhere.status_code == 401
