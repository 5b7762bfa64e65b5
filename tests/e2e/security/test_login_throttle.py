"""Item 6: wrong passwords from one address do not lock the owner out on theirs; the 429's
Retry-After is the service's own; and a Redis outage costs login no 5xx."""
from __future__ import annotations

import re

from tests.e2e.conftest import register_and_login
from tests.e2e.security.conftest import PASSWORD, client_from


async def test_an_attacker_cannot_lock_the_owner_out(embedded):
    victim = await register_and_login(embedded, "student")
    async with client_from(embedded, "203.0.113.66") as attacker:
        answers = [await attacker.post("/auth/login", json={"email": victim.email, "password": f"guess {i}"})
                   for i in range(8)]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
    refused = answers[-1]
    seconds = int(re.search(r"(\d+) s", refused.json()["detail"]).group(1))
    assert int(refused.headers["retry-after"]) == seconds

    async with client_from(embedded, "198.51.100.7") as owner:
        login = await owner.post("/auth/login", json={"email": victim.email, "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_many_addresses_meet_the_slower_per_account_backoff(embedded):
    victim = await register_and_login(embedded, "student")
    statuses = []
    for i in range(40):
        async with client_from(embedded, f"203.0.113.{i + 1}") as attacker:
            answer = await attacker.post("/auth/login", json={"email": victim.email, "password": "wrong guess"})
            statuses.append(answer.status_code)
    assert 429 in statuses, statuses
    assert statuses.index(429) >= 10       # far more tries than one address gets


async def test_login_answers_without_a_5xx_while_redis_is_down(embedded):
    from shared.redis_factory import make_redis
    account = await register_and_login(embedded, "student")
    runtime = embedded.app.state.runtime  # type: ignore[attr-defined]
    working, runtime.redis = runtime.redis, make_redis("redis://127.0.0.1:9/0")   # nothing listens there
    try:
        wrong = [await embedded.post("/auth/login", json={"email": account.email, "password": "nope nope"})
                 for _ in range(6)]
        async with client_from(embedded, "198.51.100.8") as owner:
            right = await owner.post("/auth/login", json={"email": account.email, "password": PASSWORD})
    finally:
        await runtime.redis.aclose()
        runtime.redis = working
    assert [w.status_code for w in wrong] == [401] * 5 + [429]
    assert right.status_code == 200, right.text
