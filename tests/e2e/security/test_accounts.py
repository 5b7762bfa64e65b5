"""Items 5 and 7: look-alike e-mails are one account or refused; a deactivated or deleted
account's tokens and calendar feeds stop working at once, in every service."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.e2e.conftest import link, register_and_login, settle
from tests.e2e.security.conftest import PASSWORD, admin_account
from tests.support import eventually


async def _register(client, email: str):
    return await client.post("/auth/register", json={
        "email": email, "password": PASSWORD, "full_name": "Anna", "role": "student"})


async def test_compatibility_forms_of_an_email_are_the_same_account(embedded):
    assert (await _register(embedded, "anna.k@example.org")).status_code == 201
    fullwidth = await _register(embedded, "ａｎｎａ.k@example.org")
    assert fullwidth.status_code == 409, fullwidth.text
    login = await embedded.post("/auth/login", json={"email": "ＡＮＮＡ.K@EXAMPLE.ORG", "password": PASSWORD})
    assert login.status_code == 200, login.text


async def test_an_idna_domain_is_stored_in_ascii(embedded):
    created = await _register(embedded, "ivan@пример.рф")
    assert created.status_code == 201, created.text
    assert created.json()["email"] == "ivan@xn--e1afmkfd.xn--p1ai"
    assert (await _register(embedded, "ivan@xn--e1afmkfd.xn--p1ai")).status_code == 409


@pytest.mark.parametrize("email", ["аnna@example.org", "annа.k@example.org"])
async def test_a_local_part_mixing_scripts_is_refused(embedded, email):
    refused = await _register(embedded, email)     # a Cyrillic а among Latin letters
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"] == "application/problem+json"


async def _calendar_url(client, account) -> str:
    made = await client.post("/api/v1/lessons/calendar/token", headers=account.headers)
    assert made.status_code == 201, made.text
    return made.json()["url"].split("testserver", 1)[-1].replace("http://127.0.0.1:8000", "")


async def test_an_admin_deactivates_a_user_and_every_token_and_feed_dies_at_once(embedded):
    admin = await admin_account(embedded)
    teacher = await register_and_login(embedded, "teacher")
    feed = await _calendar_url(embedded, teacher)
    assert (await embedded.get(feed)).status_code == 200
    assert (await embedded.get("/api/v1/lessons", headers=teacher.headers)).status_code == 200

    answer = await embedded.post(f"/api/v1/users/{teacher.id}/deactivate", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    for path in ("/auth/me", "/api/v1/lessons", "/api/v1/notifications"):
        refused = await embedded.get(path, headers=teacher.headers)
        assert refused.status_code == 401, (path, refused.text)
    relogin = await embedded.post("/auth/login", json={"email": teacher.email, "password": PASSWORD})
    assert relogin.status_code == 401
    assert (await embedded.post("/auth/refresh", json={"refresh_token": teacher.refresh_token})).status_code == 401
    await settle(embedded)
    assert (await embedded.get(feed)).status_code == 404

    not_admin = await embedded.post(f"/api/v1/users/{admin.id}/deactivate", headers=teacher.headers)
    assert not_admin.status_code == 401


async def test_only_admins_deactivate(embedded):
    teacher = await register_and_login(embedded, "teacher")
    student = await register_and_login(embedded, "student")
    refused = await embedded.post(f"/api/v1/users/{student.id}/deactivate", headers=teacher.headers)
    assert refused.status_code == 403


async def test_a_user_deletes_their_own_account(embedded):
    student = await register_and_login(embedded, "student")
    feed = await _calendar_url(embedded, student)
    wrong = await embedded.post("/api/v1/users/me/deletion", json={"password": "not my password"},
                                headers=student.headers)
    assert wrong.status_code == 401
    deleted = await embedded.post("/api/v1/users/me/deletion", json={"password": PASSWORD}, headers=student.headers)
    assert deleted.status_code == 204, deleted.text
    assert (await embedded.get("/api/v1/lessons", headers=student.headers)).status_code == 401
    assert (await embedded.post("/auth/login", json={"email": student.email, "password": PASSWORD})).status_code == 401
    await settle(embedded)
    assert (await embedded.get(feed)).status_code == 404
    again = await _register(embedded, student.email)    # the address is free again
    assert again.status_code == 201, again.text


async def test_other_services_forget_a_deleted_account(embedded):
    teacher = await register_and_login(embedded, "teacher")
    student = await register_and_login(embedded, "student")
    invite = await embedded.post("/api/v1/teachers/me/invites", headers=teacher.headers)
    assert (await embedded.post(f"/api/v1/invites/{invite.json()['code']}/accept",
                                headers=student.headers)).status_code == 200
    await settle(embedded)
    assert (await embedded.get("/api/v1/notifications", headers=student.headers)).json()["items"]
    deleted = await embedded.post("/api/v1/users/me/deletion", json={"password": PASSWORD}, headers=student.headers)
    assert deleted.status_code == 204
    await settle(embedded)
    assert (await embedded.get(f"/api/v1/students/{student.id}/profile", headers=teacher.headers)).status_code in (403, 404)
    apps = embedded.app.state.service_apps  # type: ignore[attr-defined]
    from sqlalchemy import func, select

    from services.lesson import models as lesson
    from services.notification.models import Contact, Notification, TeacherLink
    from services.student import models as student_models
    student_id = uuid.UUID(student.id)

    async def count(app: str, model: Any, *where: Any) -> int:
        async with apps[app].state.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(model).where(*where))

    async def name(app: str, model: Any) -> str | None:
        async with apps[app].state.session_factory() as session:
            return (await session.get(model, student_id)).full_name

    assert await count("notification", Contact, Contact.id == student_id) == 0
    assert await count("notification", Notification, Notification.user_id == student_id) == 0
    assert await count("notification", TeacherLink, TeacherLink.student_id == student_id) == 0
    assert await count("lesson", lesson.TeacherLink, lesson.TeacherLink.student_id == student_id) == 0
    assert await name("lesson", lesson.KnownUser) == "Deleted user"
    assert await count("student", student_models.TeacherLink, student_models.TeacherLink.student_id == student_id) == 0
    assert await name("student", student_models.KnownUser) is None


async def _cancelled_lesson(client, teacher, student) -> None:
    starts_at = (datetime.now(UTC) + timedelta(days=3)).replace(hour=9, minute=0, second=0, microsecond=0)
    created = await client.post("/api/v1/lessons", headers=teacher.headers, json={
        "student_id": student.id, "subject": "Maths", "title": "Fractions", "starts_at": starts_at.isoformat(), "duration_minutes": 60})
    assert created.status_code == 201, created.text
    cancelled = await client.post(f"/api/v1/lessons/{created.json()['id']}/cancel", headers=teacher.headers,
                                  json={"reason": "ill"})
    assert cancelled.status_code == 200, cancelled.text
    await settle(client)


async def _kinds(client, account) -> list[str]:
    inbox = await client.get("/api/v1/notifications", headers=account.headers)
    assert inbox.status_code == 200, inbox.text
    return [item["kind"] for item in inbox.json()["items"]]


@pytest.fixture
def roomy_logins(monkeypatch) -> None:
    """Room for this test's nine logins and registrations: the per-address limit (10 a minute)
    also counts those of the tests just before it, all from this process's one address."""
    monkeypatch.setenv("AUTH_RATE_LIMIT_PER_MINUTE", "1000")


@pytest.mark.usefixtures("roomy_logins")
async def test_a_deactivated_account_is_sent_nothing_until_it_is_reactivated(embedded):
    admin = await admin_account(embedded)
    teacher = await register_and_login(embedded, "teacher")
    student = await register_and_login(embedded, "student")
    parent = await register_and_login(embedded, "parent")
    await link(embedded, teacher, student)
    code = (await embedded.post("/api/v1/students/me/parent-invites", headers=student.headers)).json()["code"]
    assert (await embedded.post(f"/api/v1/invites/{code}/accept", headers=parent.headers)).status_code == 200
    await settle(embedded)
    assert (await embedded.post(f"/api/v1/users/{student.id}/deactivate", headers=admin.headers)).status_code == 200
    await settle(embedded)

    await _cancelled_lesson(embedded, teacher, student)
    assert await _kinds(embedded, parent) == ["lesson_cancelled"]      # the same event reached the parent

    assert (await embedded.post(f"/api/v1/users/{student.id}/reactivate", headers=admin.headers)).status_code == 200
    await settle(embedded)
    headers: dict[str, str] = {}

    async def logged_in_again() -> bool:
        # revocation is kept to the second: a token issued in the second of the deactivation is refused too
        login = await embedded.post("/auth/login", json={"email": student.email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        return (await embedded.get("/api/v1/notifications", headers=headers)).status_code == 200
    await eventually(logged_in_again, timeout=10, interval=0.5)
    before = (await embedded.get("/api/v1/notifications", headers=headers)).json()["items"]
    assert "lesson_cancelled" not in [item["kind"] for item in before]

    await _cancelled_lesson(embedded, teacher, student)
    after = (await embedded.get("/api/v1/notifications", headers=headers)).json()["items"]
    assert [item["kind"] for item in after].count("lesson_cancelled") == 1
    assert await _kinds(embedded, parent) == ["lesson_cancelled", "lesson_cancelled"]
