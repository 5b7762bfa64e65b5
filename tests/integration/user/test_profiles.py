"""Profiles, avatars and the lists of users."""
import io
import uuid

from PIL import Image

from services.user import seed
from shared.outbox import OutboxMessage
from shared.pagination import encode_cursor

PROBLEM = "application/problem+json"


def _png(size=(8, 8)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def _linked_pair(service):
    teacher, student = await service.account("teacher"), await service.account("student")
    code = (await service.client.post("/api/v1/teachers/me/invites", headers=teacher.headers)).json()["code"]
    assert (await service.client.post(f"/api/v1/invites/{code}/accept", headers=student.headers)).status_code == 200
    return teacher, student


async def test_a_user_changes_their_profile_and_user_updated_lists_only_what_changed(service):
    user = await service.account(timezone="Europe/Moscow")
    changed = await service.client.patch(f"/api/v1/users/{user.id}", headers=user.headers, json={
        "timezone": "Asia/Vladivostok", "locale": "en", "phone": "+7 (912) 345-67-89", "full_name": "Student Tester"})
    assert changed.status_code == 200
    assert changed.json()["timezone"] == "Asia/Vladivostok" and changed.json()["phone"] == "+7 (912) 345-67-89"
    [event] = [e for e in await service.outbox("user.updated") if e.payload["user_id"] == user.id]
    assert event.payload["changed"] == {"timezone": "Asia/Vladivostok", "locale": "en",
                                        "phone": "+7 (912) 345-67-89"}

    same = await service.client.patch(f"/api/v1/users/{user.id}", headers=user.headers, json={"locale": "en"})
    assert same.status_code == 200
    assert len([e for e in await service.outbox("user.updated") if e.payload["user_id"] == user.id]) == 1


async def test_invalid_profile_changes_are_422_and_change_nothing(service):
    user = await service.account()
    events = await service.count(OutboxMessage)
    for body in ({"timezone": "Mars/Olympus"}, {"locale": "de"}, {"full_name": None}, {"full_name": ""},
                 {"phone": "call me maybe"}, {"timezone": 3}):
        response = await service.client.patch(f"/api/v1/users/{user.id}", headers=user.headers, json=body)
        assert response.status_code == 422, body
        assert response.headers["content-type"] == PROBLEM
    me = (await service.client.get("/auth/me", headers=user.headers)).json()
    assert me["timezone"] == "Europe/Moscow" and me["locale"] == "ru"
    assert await service.count(OutboxMessage) == events


async def test_users_see_themselves_and_linked_users_and_nobody_else(service):
    teacher, student = await _linked_pair(service)
    stranger = await service.account("teacher")
    assert (await service.client.get(f"/api/v1/users/{student.id}", headers=student.headers)).status_code == 200
    assert (await service.client.get(f"/api/v1/users/{student.id}", headers=teacher.headers)).status_code == 200
    assert (await service.client.get(f"/api/v1/users/{teacher.id}", headers=student.headers)).status_code == 200
    hidden = await service.client.get(f"/api/v1/users/{student.id}", headers=stranger.headers)
    assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
    missing = await service.client.get(f"/api/v1/users/{uuid.uuid4()}", headers=student.headers)
    assert missing.status_code == 404
    assert (await service.client.get("/api/v1/users/not-a-uuid", headers=student.headers)).status_code == 422


async def test_only_the_user_and_admins_change_a_profile(service):
    teacher, student = await _linked_pair(service)
    stranger = await service.account("teacher")
    by_teacher = await service.client.patch(f"/api/v1/users/{student.id}", headers=teacher.headers,
                                            json={"full_name": "Renamed"})
    assert by_teacher.status_code == 403
    by_stranger = await service.client.patch(f"/api/v1/users/{student.id}", headers=stranger.headers,
                                             json={"full_name": "Renamed"})
    assert by_stranger.status_code == 404
    admin_id = await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords,
                                       email=f"admin-{uuid.uuid4().hex[:6]}@example.org",
                                       password="admin password 1", full_name="Admin")
    admin = await service.login((await _email_of(service, admin_id)), "admin password 1")
    by_admin = await service.client.patch(f"/api/v1/users/{student.id}", json={"full_name": "Renamed"},
                                          headers={"Authorization": f"Bearer {admin.json()['access_token']}"})
    assert by_admin.status_code == 200 and by_admin.json()["full_name"] == "Renamed"


async def _email_of(service, user_id) -> str:
    from services.user.models import User
    async with service.app.state.session_factory() as session:
        return (await session.get(User, user_id)).email


async def test_an_avatar_image_is_stored_and_served_to_those_who_see_the_user(service):
    teacher, student = await _linked_pair(service)
    picture = _png()
    put = await service.client.put(f"/api/v1/users/{student.id}/avatar", headers=student.headers,
                                   files={"file": ("me.txt", picture, "text/plain")})
    assert put.status_code == 200, put.text
    assert put.json()["avatar_url"] == f"/api/v1/users/{student.id}/avatar"
    got = await service.client.get(f"/api/v1/users/{student.id}/avatar", headers=teacher.headers)
    assert got.status_code == 200 and got.content == picture
    assert got.headers["content-type"] == "image/png"
    stranger = await service.account("teacher")
    assert (await service.client.get(f"/api/v1/users/{student.id}/avatar", headers=stranger.headers)
            ).status_code == 404
    [event] = [e for e in await service.outbox("user.updated") if e.payload["user_id"] == student.id]
    assert event.payload["changed"] == {"avatar_url": f"/api/v1/users/{student.id}/avatar"}


async def test_an_avatar_that_is_not_an_image_or_too_large_is_refused(service):
    user = await service.account()
    fake = await service.client.put(f"/api/v1/users/{user.id}/avatar", headers=user.headers,
                                    files={"file": ("a.png", b"#!/bin/sh\necho not an image\n", "image/png")})
    assert fake.status_code == 415 and fake.headers["content-type"] == PROBLEM
    big = _png() + b"\0" * (5 * 1024 * 1024)
    too_large = await service.client.put(f"/api/v1/users/{user.id}/avatar", headers=user.headers,
                                         files={"file": ("a.png", big, "image/png")})
    assert too_large.status_code == 413
    missing = await service.client.put(f"/api/v1/users/{user.id}/avatar", headers=user.headers)
    assert missing.status_code == 422
    assert (await service.client.get(f"/api/v1/users/{user.id}/avatar", headers=user.headers)).status_code == 404
    other = await service.account()
    assert (await service.client.put(f"/api/v1/users/{other.id}/avatar", headers=user.headers,
                                     files={"file": ("a.png", _png(), "image/png")})).status_code == 404


async def test_teachers_list_their_students_and_admins_list_everyone_page_by_page(service):
    teacher, first = await _linked_pair(service)
    code = (await service.client.post("/api/v1/teachers/me/invites", headers=teacher.headers)).json()["code"]
    second = await service.account("student")
    await service.client.post(f"/api/v1/invites/{code}/accept", headers=second.headers)
    await service.account("student")  # not linked

    own = await service.client.get("/api/v1/users", headers=teacher.headers)
    assert {u["id"] for u in own.json()["items"]} == {first.id, second.id}
    page = await service.client.get("/api/v1/users?limit=1", headers=teacher.headers)
    rest = await service.client.get(f"/api/v1/users?limit=1&cursor={page.json()['next_cursor']}",
                                    headers=teacher.headers)
    assert {page.json()["items"][0]["id"], rest.json()["items"][0]["id"]} == {first.id, second.id}
    assert rest.json()["next_cursor"] is None

    email = f"admin-{uuid.uuid4().hex[:6]}@example.org"
    await seed.create_admin(service.app.state.uow_factory, service.app.state.deps.passwords, email=email,
                            password="admin password 1", full_name="Admin")
    admin = {"Authorization": f"Bearer {(await service.login(email, 'admin password 1')).json()['access_token']}"}
    teachers = await service.client.get("/api/v1/users?role=teacher&limit=200", headers=admin)
    assert teacher.id in {u["id"] for u in teachers.json()["items"]}
    assert {u["role"] for u in teachers.json()["items"]} == {"teacher"}
    found = await service.client.get(f"/api/v1/users?q={second.email.upper()}", headers=admin)
    assert [u["id"] for u in found.json()["items"]] == [second.id]

    assert (await service.client.get("/api/v1/users", headers=first.headers)).status_code == 403
    assert (await service.client.get("/api/v1/users?role=wizard", headers=admin)).status_code == 422
    for cursor in ("%%%", encode_cursor([]), encode_cursor([None]), encode_cursor(["\x00"])):
        assert (await service.client.get("/api/v1/users", params={"cursor": cursor}, headers=admin)
                ).status_code == 422, cursor
    assert (await service.client.get("/api/v1/teachers/me/students", headers=first.headers)).status_code == 403
