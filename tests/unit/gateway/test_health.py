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
