import pytest

from api_gateway import routes
from shared.settings import SERVICE_NAMES


@pytest.mark.parametrize("path, service", [
    ("/auth/login", "user"), ("/.well-known/jwks.json", "user"), ("/api/v1/users/1", "user"),
    ("/api/v1/teachers/me/invites", "user"), ("/api/v1/invites/abc/accept", "user"),
    ("/api/v1/students/me/parent-invites", "user"), ("/api/v1/students/1/profile", "student"),
    ("/api/v1/students", "student"), ("/api/v1/leaderboards", "student"),
    ("/api/v1/gamification/rules", "student"), ("/api/v1/lessons/calendar.ics", "lesson"),
    ("/api/v1/homework/1/files/2", "homework"), ("/api/v1/payments/balance", "payment"),
    ("/api/v1/materials", "material"), ("/api/v1/notifications/read-all", "notification"),
    ("/api/v1/analytics/reports/x.csv", "analytics"), ("/api/v1/decks/1/due", "dictionary"),
    ("/api/v1/cards/1/audio", "dictionary"), ("/api/v1/telegram/link", "user"),
])
def test_the_longest_prefix_decides_the_service(path, service):
    assert routes.resolve(path).service == service


@pytest.mark.parametrize("path", ["/api/v1/lessonsx", "/authority", "/health", "/gateway/services", "/"])
def test_prefixes_match_whole_segments_only(path):
    assert routes.resolve(path) is None


def test_every_service_has_a_prefix():
    assert set(routes.PREFIXES.values()) == set(SERVICE_NAMES)


def test_public_paths_are_exactly_the_documented_ones():
    assert routes.is_public("POST", "/auth/login") and routes.is_public("POST", "/auth/refresh")
    assert routes.is_public("GET", "/.well-known/jwks.json")
    assert routes.is_public("POST", "/api/v1/payments/webhooks/yookassa")
    assert not routes.is_public("POST", "/auth/logout") and not routes.is_public("GET", "/auth/me")
    assert not routes.is_public("POST", "/api/v1/payments/webhooks/a/b")
    assert routes.is_public("GET", "/api/v1/payments/demo/5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10")
    assert not routes.is_public("POST", "/api/v1/payments/demo/5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10")
