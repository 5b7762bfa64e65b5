import hashlib
import uuid

from tests.support import TestKeys
from tests.unit.gateway.helpers import echo_service, gateway

KEYS = TestKeys()


def auth(role: str = "student") -> dict[str, str]:
    return KEYS.headers(uuid.uuid4(), role)


async def test_a_request_reaches_the_service_of_the_longest_matching_prefix():
    async with gateway({"user": echo_service(), "student": echo_service()}, KEYS) as client:
        response = await client.get("/api/v1/students/me/parent-invites", headers=auth())
        other = await client.get("/api/v1/students/42/profile?x=1", headers=auth())
    assert response.status_code == 200
    assert response.json()["path"] == "/api/v1/students/me/parent-invites"
    assert other.json()["path"] == "/api/v1/students/42/profile" and other.json()["query"] == "x=1"


async def test_hop_by_hop_headers_are_stripped_and_forwarding_headers_set():
    async with gateway({"lesson": echo_service()}, KEYS) as client:
        response = await client.get("/api/v1/lessons", headers={
            **auth(), "Connection": "keep-alive, X-Secret-Hop", "X-Secret-Hop": "1", "Keep-Alive": "timeout=5",
            "TE": "trailers", "X-Custom": "kept", "X-Correlation-ID": "abc-123"})
    seen = response.json()["headers"]
    assert "x-secret-hop" not in seen and "keep-alive" not in seen and "te" not in seen
    assert seen["x-custom"] == "kept"
    assert seen["x-forwarded-for"] == "127.0.0.1"
    assert seen["x-forwarded-proto"] == "http" and seen["x-forwarded-host"] == "testserver"
    assert seen["x-correlation-id"] == "abc-123"
    assert response.headers["x-correlation-id"] == "abc-123"


async def test_a_correlation_id_is_created_when_the_client_sends_none_and_passed_on():
    async with gateway({"lesson": echo_service()}, KEYS) as client:
        response = await client.get("/api/v1/lessons", headers=auth())
    created = response.headers["x-correlation-id"]
    assert len(created) >= 16 and response.json()["headers"]["x-correlation-id"] == created


async def test_bodies_pass_through_unchanged_and_without_the_json_size_limit():
    body = b"{" + b" " * 3_000_000 + b"}"
    async with gateway({"homework": echo_service()}, KEYS) as client:
        response = await client.post("/api/v1/homework", content=body,
                                     headers={**auth(), "Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


async def test_streamed_downloads_arrive_whole():
    async with gateway({"material": echo_service()}, KEYS) as client:
        response = await client.get("/api/v1/materials/x/download?size=1000000", headers=auth())
    assert response.status_code == 200 and len(response.content) == 1_000_000


async def test_an_unknown_path_is_a_problem_404_with_a_correlation_id():
    async with gateway({}, KEYS) as client:
        response = await client.get("/api/v2/nothing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["correlation_id"] == response.headers["x-correlation-id"]


async def test_an_unreachable_service_is_a_502_problem():
    async with gateway({}, KEYS, service_urls={"dictionary": ["http://127.0.0.1:9"]}) as client:
        response = await client.get("/api/v1/decks", headers=auth())
    assert response.status_code == 502
    assert response.json()["detail"] == "The dictionary service did not answer"


async def test_a_slow_service_is_a_504_problem():
    async with gateway({"lesson": echo_service()}, KEYS, upstream_read_timeout=0.2) as client:
        response = await client.get("/api/v1/lessons?sleep=1", headers=auth())
    assert response.status_code == 504


async def test_cors_preflight_is_answered_for_configured_origins_only():
    async with gateway({"lesson": echo_service()}, KEYS, cors_origins="https://app.example.org") as client:
        allowed = await client.options("/api/v1/lessons", headers={
            "Origin": "https://app.example.org", "Access-Control-Request-Method": "POST"})
        refused = await client.options("/api/v1/lessons", headers={
            "Origin": "https://evil.example.org", "Access-Control-Request-Method": "POST"})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.org"
    assert "access-control-allow-origin" not in refused.headers
