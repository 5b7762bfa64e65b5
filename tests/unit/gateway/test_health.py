import uuid

from fastapi import FastAPI

from shared import health
from tests.support import TestKeys
from tests.unit.gateway.helpers import echo_service, gateway


async def test_platform_health_reports_every_service_with_its_latency():
    async with gateway({"lesson": echo_service(), "user": echo_service()}, TestKeys(),
                       health_timeout=0.5) as client:
        response = await client.get("/health")
    body = response.json()
    assert response.status_code == 200 and body["status"] == "degraded"
    assert set(body["services"]) == {"user", "lesson", "homework", "payment", "material", "notification",
                                     "analytics", "student", "dictionary"}
    assert body["services"]["lesson"]["status"] == "ok" and body["services"]["lesson"]["latency_ms"] >= 0
    assert body["services"]["payment"]["status"] == "down"


async def test_the_gateway_itself_is_live_and_ready():
    async with gateway({}, TestKeys()) as client:
        live = await client.get("/health/live")
        ready = await client.get("/health/ready")
    assert live.status_code == 200 and ready.status_code == 200
    assert set(ready.json()["checks"]) == {"redis", "rate_limits"}


ALL_UP = ("user", "lesson", "homework", "payment", "material", "notification", "analytics", "student", "dictionary")


async def test_an_open_breaker_makes_its_service_and_the_platform_degraded():
    keys = TestKeys()
    admin = keys.headers(uuid.uuid4(), "admin")
    async with gateway({name: echo_service() for name in ALL_UP}, keys, health_cache_seconds=0,
                       circuit_breaker_failure_threshold=1) as client:
        before = (await client.get("/health")).json()
        await client.get("/api/v1/analytics/x?status=500", headers=admin)
        after = (await client.get("/health")).json()
    assert before["status"] == "ok" and before["services"]["analytics"]["breaker"] == "closed"
    assert after["status"] == "degraded"
    assert after["services"]["analytics"]["status"] == "degraded"
    assert after["services"]["analytics"]["breaker"] == "open"
    assert after["services"]["lesson"]["status"] == "ok"


async def test_a_service_whose_dependency_is_down_is_degraded_with_that_dependency_named():
    services = {name: echo_service() for name in ALL_UP}
    services["lesson"] = _service_with_checks({"database": True, "bus": False, "redis": True})
    async with gateway(services, TestKeys(), health_cache_seconds=0) as client:
        body = (await client.get("/health")).json()
    lesson = body["services"]["lesson"]
    assert body["status"] == "degraded" and lesson["status"] == "degraded"
    assert lesson["dependencies"] == {"database": "ok", "bus": "down", "redis": "ok"}


async def test_a_service_that_answers_not_ready_is_degraded_and_one_that_does_not_answer_is_down():
    services = {name: echo_service() for name in ALL_UP if name != "payment"}
    services["lesson"] = _service_with_checks({"database": False, "bus": True, "redis": True})
    async with gateway(services, TestKeys(), health_cache_seconds=0) as client:
        body = (await client.get("/health")).json()
    lesson = body["services"]["lesson"]
    assert (lesson["status"], lesson["dependencies"]["database"]) == ("degraded", "down")
    assert lesson["latency_ms"] >= 0
    assert body["services"]["payment"]["status"] == "down"
    assert body["status"] == "degraded"


async def test_instance_urls_are_shown_to_admins_only():
    keys = TestKeys()
    async with gateway({"lesson": echo_service()}, keys, health_cache_seconds=0) as client:
        anonymous = (await client.get("/health")).json()
        teacher = (await client.get("/health", headers=keys.headers(uuid.uuid4(), "teacher"))).json()
        admin = (await client.get("/health", headers=keys.headers(uuid.uuid4(), "admin"))).json()
    assert "instances" not in anonymous["services"]["lesson"] and "instances" not in teacher["services"]["lesson"]
    assert admin["services"]["lesson"]["instances"][0]["url"] == "http://lesson"


def _service_with_checks(outcomes: dict[str, bool]) -> FastAPI:
    """A service whose readiness checks answer `outcomes` (shared/health.py, as every service)."""
    app = FastAPI()
    app.include_router(health.router)

    def check(ok: bool):
        async def run() -> bool:
            return ok
        return run
    app.state.ready_checks = {name: check(ok) for name, ok in outcomes.items()}
    return app
