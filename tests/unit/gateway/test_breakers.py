import asyncio
import uuid
from datetime import UTC, datetime

from tests.support import FakeClock, TestKeys, eventually
from tests.unit.gateway.helpers import echo_service, gateway, release, requests_seen

KEYS = TestKeys()
ADMIN = {"Authorization": f"Bearer {KEYS.token(uuid.uuid4(), 'admin', ttl=24 * 3600)}"}  # outlives a long suite


def far_clock() -> FakeClock:
    """The breakers' clock, years away from the wall clock: a reading of the wrong one shows."""
    return FakeClock(datetime(2030, 1, 1, tzinfo=UTC))


async def test_five_failures_open_the_breaker_and_it_answers_503_without_calling_the_service():
    service = echo_service()
    async with gateway({"analytics": service}, KEYS, clock=far_clock(), circuit_breaker_failure_threshold=5,
                       circuit_breaker_recovery_timeout=60) as client:
        failures = [await client.get("/api/v1/analytics/x?status=500", headers=ADMIN) for _ in range(5)]
        refused = await client.get("/api/v1/analytics/x", headers=ADMIN)
        state = (await client.get("/gateway/services", headers=ADMIN)).json()["analytics"]["breaker"]
    assert [r.status_code for r in failures] == [500] * 5          # the service's own answer passes
    assert refused.status_code == 503 and refused.headers["retry-after"] == "60"
    assert refused.headers["content-type"] == "application/problem+json"
    assert state["state"] == "open" and state["failure_count"] == 5
    assert await requests_seen(service) == 5


async def test_a_service_shedding_load_with_retry_after_does_not_open_the_breaker():
    service = echo_service()
    async with gateway({"analytics": service}, KEYS, circuit_breaker_failure_threshold=2) as client:
        shed = [await client.get("/api/v1/analytics/x?status=503&retry_after=7", headers=ADMIN) for _ in range(3)]
        after = await client.get("/api/v1/analytics/x", headers=ADMIN)
        state = (await client.get("/gateway/services", headers=ADMIN)).json()["analytics"]["breaker"]
    assert [(r.status_code, r.headers["retry-after"]) for r in shed] == [(503, "7")] * 3
    assert after.status_code == 200
    assert state["state"] == "closed" and state["failure_count"] == 0
    assert await requests_seen(service) == 4


async def test_a_dependency_failure_answered_503_does_not_open_the_breaker():
    service = echo_service()
    async with gateway({"analytics": service}, KEYS, circuit_breaker_failure_threshold=2) as client:
        answers = [await client.get("/api/v1/analytics/x?status=503", headers=ADMIN) for _ in range(4)]
        after = await client.get("/api/v1/analytics/x", headers=ADMIN)
        state = (await client.get("/gateway/services", headers=ADMIN)).json()["analytics"]["breaker"]
    assert [r.status_code for r in answers] == [503] * 4             # the service's own answer passes
    assert after.status_code == 200
    assert state["state"] == "closed" and state["failure_count"] == 0
    assert await requests_seen(service) == 5


async def test_a_success_resets_the_count_of_consecutive_failures():
    async with gateway({"analytics": echo_service()}, KEYS, circuit_breaker_failure_threshold=3) as client:
        for status in (500, 500, 200, 500, 500):
            await client.get(f"/api/v1/analytics/x?status={status}", headers=ADMIN)
        response = await client.get("/api/v1/analytics/x", headers=ADMIN)
    assert response.status_code == 200


async def test_after_the_recovery_timeout_one_trial_goes_through_and_its_success_closes_the_breaker():
    clock, service = far_clock(), echo_service()
    async with gateway({"analytics": service}, KEYS, clock=clock, circuit_breaker_failure_threshold=2,
                       circuit_breaker_recovery_timeout=30) as client:
        for _ in range(2):
            await client.get("/api/v1/analytics/x?status=500", headers=ADMIN)
        clock.advance(seconds=29)
        early = await client.get("/api/v1/analytics/x", headers=ADMIN)
        clock.advance(seconds=1)
        slow_trial = asyncio.create_task(client.get("/api/v1/analytics/x?hold=trial", headers=ADMIN))

        async def trial_arrived() -> bool:
            return await requests_seen(service) == 3
        await eventually(trial_arrived)
        during_trial = await client.get("/api/v1/analytics/x", headers=ADMIN)
        await release(service, "trial")
        trial = await slow_trial
        after = await client.get("/api/v1/analytics/x", headers=ADMIN)
        state = (await client.get("/gateway/services", headers=ADMIN)).json()["analytics"]["breaker"]
    assert early.status_code == 503 and early.headers["retry-after"] == "1"
    assert during_trial.status_code == 503
    assert trial.status_code == 200 and after.status_code == 200
    assert state["state"] == "closed" and state["failure_count"] == 0
    assert await requests_seen(service) == 4      # the failures, the trial and the one after it


async def test_a_failed_trial_opens_the_breaker_again_for_a_whole_recovery_timeout():
    clock = far_clock()
    async with gateway({"analytics": echo_service()}, KEYS, clock=clock, circuit_breaker_failure_threshold=1,
                       circuit_breaker_recovery_timeout=30) as client:
        await client.get("/api/v1/analytics/x?status=500", headers=ADMIN)
        clock.advance(seconds=30)
        trial = await client.get("/api/v1/analytics/x?status=502", headers=ADMIN)
        next_one = await client.get("/api/v1/analytics/x", headers=ADMIN)
    assert trial.status_code == 502
    assert next_one.status_code == 503 and next_one.headers["retry-after"] == "30"


async def test_an_admin_can_reset_a_breaker_and_others_cannot():
    async with gateway({"analytics": echo_service()}, KEYS, circuit_breaker_failure_threshold=1) as client:
        await client.get("/api/v1/analytics/x?status=500", headers=ADMIN)
        teacher = await client.post("/gateway/breakers/analytics/reset", headers=KEYS.headers(uuid.uuid4(), "teacher"))
        anonymous = await client.post("/gateway/breakers/analytics/reset")
        unknown = await client.post("/gateway/breakers/nothing/reset", headers=ADMIN)
        reset = await client.post("/gateway/breakers/analytics/reset", headers=ADMIN)
        after = await client.get("/api/v1/analytics/x", headers=ADMIN)
    assert [teacher.status_code, anonymous.status_code, unknown.status_code] == [403, 401, 404]
    assert reset.status_code == 200 and reset.json()["breaker"]["state"] == "closed"
    assert after.status_code == 200


async def test_client_errors_do_not_count_as_failures():
    async with gateway({"analytics": echo_service()}, KEYS, circuit_breaker_failure_threshold=2) as client:
        for _ in range(3):
            await client.get("/api/v1/analytics/x?status=404", headers=ADMIN)
        response = await client.get("/api/v1/analytics/x", headers=ADMIN)
    assert response.status_code == 200


async def test_breaker_state_is_a_metric():
    async with gateway({"analytics": echo_service()}, KEYS, circuit_breaker_failure_threshold=1) as client:
        await client.get("/api/v1/analytics/x?status=500", headers=ADMIN)
        metrics = (await client.get("/gateway/metrics")).text
    assert 'repitbot_gateway_breaker_state{upstream="analytics"} 2.0' in metrics
    assert 'repitbot_gateway_upstream_errors_total{kind="status_5xx",upstream="analytics"}' in metrics
