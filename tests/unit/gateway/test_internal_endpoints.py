"""Metrics with a scrape token (METRICS_TOKEN): refused to anyone else, admins included."""
import uuid

from tests.support import TestKeys
from tests.unit.gateway.helpers import gateway


async def test_metrics_need_the_scrape_token_when_one_is_set():
    keys = TestKeys()
    async with gateway({}, keys, metrics_token="scrape-me") as client:
        anonymous = [await client.get(path) for path in ("/metrics", "/gateway/metrics")]
        admin = await client.get("/gateway/metrics", headers=keys.headers(uuid.uuid4(), "admin"))
        wrong = await client.get("/metrics", headers={"Authorization": "Bearer scrape-you"})
        scraper = [await client.get(path, headers={"Authorization": "Bearer scrape-me"})
                   for path in ("/metrics", "/gateway/metrics")]
    assert [r.status_code for r in anonymous] == [401, 401] and admin.status_code == 401
    assert wrong.status_code == 401 and wrong.headers["content-type"] == "application/problem+json"
    assert [r.status_code for r in scraper] == [200, 200]
    assert "repitbot_gateway_breaker_state" in scraper[1].text


async def test_metrics_are_open_without_a_token():
    async with gateway({}, TestKeys()) as client:
        assert (await client.get("/metrics")).status_code == 200
