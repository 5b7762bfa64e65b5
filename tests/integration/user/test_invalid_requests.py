"""Malformed, oversized and conflicting requests: a clear problem, never a 500, nothing written."""
import asyncio
import json

import pytest

from services.user.models import User
from shared.outbox import OutboxMessage

PROBLEM = "application/problem+json"


async def _nothing_written(service, attempt) -> dict:
    users, events = await service.count(User), await service.count(OutboxMessage)
    response = await attempt()
    assert response.headers["content-type"] == PROBLEM, response.text
    body = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]
    assert body["correlation_id"] == response.headers["x-correlation-id"]
    assert (await service.count(User), await service.count(OutboxMessage)) == (users, events)
    return body | {"status_code": response.status_code}


def _post(service, **kwargs):
    return lambda: service.client.post("/auth/register", **kwargs)


async def test_a_body_that_is_not_json_is_400(service):
    answer = await _nothing_written(service, _post(
        service, content=b'{"email": "a@example.org", "password": ', headers={"content-type": "application/json"}))
    assert answer["status_code"] == 400


@pytest.mark.parametrize("body", [
    {"email": 42, "password": "correct horse battery", "full_name": "A", "role": "student"},
    {"email": "a@example.org", "password": ["x"], "full_name": "A", "role": "student"},
    {"email": "a@example.org", "password": "correct horse battery", "full_name": {"x": 1}, "role": "student"},
    {"email": "not an email", "password": "correct horse battery", "full_name": "A", "role": "student"},
    {"email": "a@example.org", "password": "correct horse battery", "full_name": "A", "role": "ghost"},
    {"email": "a@example.org", "password": "correct horse battery", "full_name": "A", "role": "student",
     "timezone": "Mars/Olympus"},
    ["not", "an", "object"],
    {},
])
async def test_wrong_types_and_values_are_422_with_the_fields_named(service, body):
    answer = await _nothing_written(service, _post(service, json=body))
    assert answer["status_code"] == 422
    assert answer["errors"] and all(error["loc"] and error["msg"] for error in answer["errors"])


async def test_registering_an_admin_is_refused_with_a_clear_reason(service):
    answer = await _nothing_written(service, lambda: service.register("admin"))
    assert answer["status_code"] == 422
    assert "admins cannot register" in json.dumps(answer["errors"])


async def test_a_ten_megabyte_body_is_413(service):
    huge = json.dumps({"email": "a@example.org", "password": "x" * 10_000_000, "full_name": "A",
                       "role": "student"}).encode()
    answer = await _nothing_written(service, _post(service, content=huge, headers={"content-type": "application/json"}))
    assert answer["status_code"] == 413


@pytest.mark.parametrize("password", ["short", "1234567890", "password123"])
async def test_a_weak_password_is_422_saying_why(service, password):
    answer = await _nothing_written(service, lambda: service.register(password=password))
    assert answer["status_code"] == 422
    assert [error["loc"] for error in answer["errors"]] == [["body", "password"]]
    if password == "password123":   # what the schema cannot say is checked by the code, which says why
        assert answer["detail"].startswith("The password is too weak")


async def test_a_password_equal_to_the_email_is_422(service):
    email = "same.as.password@example.org"
    answer = await _nothing_written(service, lambda: service.register(email=email, password=email))
    assert answer["status_code"] == 422 and "e-mail" in answer["detail"]


async def test_a_duplicate_email_in_any_case_is_409(service):
    first = await service.register(email="dup.check@example.org")
    assert first.status_code == 201
    answer = await _nothing_written(service, lambda: service.register(email="Dup.Check@Example.org"))
    assert answer["status_code"] == 409


async def test_concurrent_registrations_of_one_email_create_one_account_and_one_event(service):
    email = "racer@example.org"
    results = await asyncio.gather(*(service.register(email=email) for _ in range(5)))
    assert sorted(r.status_code for r in results) == [201, 409, 409, 409, 409]
    assert all(r.headers["content-type"] == PROBLEM for r in results if r.status_code == 409)
    assert await service.count(User, User.email == email) == 1
    created = [e for e in await service.outbox("user.created") if e.payload["email"] == email]
    assert len(created) == 1


async def test_login_with_wrong_types_is_422_not_500(service):
    response = await service.client.post("/auth/login", json={"email": ["a"], "password": None})
    assert response.status_code == 422 and response.headers["content-type"] == PROBLEM


async def test_unknown_routes_and_methods_are_problems(service):
    assert (await service.client.get("/auth/nothing")).status_code == 404
    wrong_method = await service.client.get("/auth/register")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == PROBLEM


async def test_text_the_database_cannot_store_is_422_not_500(service):
    user = await service.account()
    attempts = [
        service.register(full_name="Null\x00Byte"),
        service.client.post("/auth/login", json={"email": "a\x00@example.org", "password": "whatever it is"}),
        service.client.patch(f"/api/v1/users/{user.id}", headers=user.headers, json={"full_name": "a\x00"}),
        service.client.get("/api/v1/invites/a%00b", headers=user.headers),
        service.client.post("/api/v1/invites/a%00b/accept", headers=user.headers),
        service.client.post("/api/v1/telegram/link", headers={"X-Bot-Token": "bot-token-for-tests"},
                            json={"token": "x", "telegram_chat_id": 10**30}),
        service.client.post("/auth/register", content=b'{"email": "s@example.org", "password": "correct horse \\ud800",'
                            b' "full_name": "A", "role": "student"}', headers={"content-type": "application/json"}),
    ]
    for attempt in attempts:
        response = await attempt
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == PROBLEM
