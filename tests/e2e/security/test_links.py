"""Item 2: invites are spent by their first use, links are visible and removable, and a new
link is told to the student."""
from __future__ import annotations

from tests.e2e.conftest import register_and_login, settle


async def _parent_invite(client, student) -> str:
    response = await client.post("/api/v1/students/me/parent-invites", headers=student.headers)
    assert response.status_code == 201, response.text
    return response.json()["code"]


async def test_a_parent_invite_is_spent_by_the_first_parent_who_accepts_it(embedded):
    student = await register_and_login(embedded, "student")
    parent = await register_and_login(embedded, "parent")
    stranger = await register_and_login(embedded, "parent")
    code = await _parent_invite(embedded, student)

    accepted = await embedded.post(f"/api/v1/invites/{code}/accept", headers=parent.headers)
    assert accepted.status_code == 200 and accepted.json()["created"] is True
    again = await embedded.post(f"/api/v1/invites/{code}/accept", headers=parent.headers)
    assert again.status_code == 200 and again.json()["created"] is False
    reused = await embedded.post(f"/api/v1/invites/{code}/accept", headers=stranger.headers)
    assert reused.status_code == 409, reused.text
    assert reused.headers["content-type"] == "application/problem+json"

    await settle(embedded)
    profile = await embedded.get(f"/api/v1/students/{student.id}/profile", headers=stranger.headers)
    assert profile.status_code in (403, 404)
    assert (await embedded.get(f"/api/v1/users/{student.id}", headers=stranger.headers)).status_code == 404


async def test_the_student_sees_who_is_linked_and_removes_a_parent(embedded):
    student = await register_and_login(embedded, "student")
    parent = await register_and_login(embedded, "parent", full_name="Pavel Parent")
    code = await _parent_invite(embedded, student)
    assert (await embedded.post(f"/api/v1/invites/{code}/accept", headers=parent.headers)).status_code == 200
    await settle(embedded)
    assert (await embedded.get(f"/api/v1/students/{student.id}/profile", headers=parent.headers)).status_code == 200

    links = await embedded.get(f"/api/v1/users/{student.id}/links", headers=student.headers)
    assert links.status_code == 200, links.text
    assert [(p["id"], p["full_name"]) for p in links.json()["parents"]] == [(parent.id, "Pavel Parent")]

    removed = await embedded.delete(f"/api/v1/users/{student.id}/links/parents/{parent.id}",
                                    headers=student.headers)
    assert removed.status_code == 204, removed.text
    await settle(embedded)
    assert (await embedded.get(f"/api/v1/users/{student.id}/links", headers=student.headers)).json()["parents"] == []
    assert (await embedded.get(f"/api/v1/users/{student.id}", headers=parent.headers)).status_code == 404
    profile = await embedded.get(f"/api/v1/students/{student.id}/profile", headers=parent.headers)
    assert profile.status_code in (403, 404)
    gone = await embedded.delete(f"/api/v1/users/{student.id}/links/parents/{parent.id}", headers=student.headers)
    assert gone.status_code == 404


async def test_a_teacher_removes_their_link_and_a_stranger_cannot(embedded):
    teacher = await register_and_login(embedded, "teacher")
    student = await register_and_login(embedded, "student")
    other = await register_and_login(embedded, "teacher")
    invite = await embedded.post("/api/v1/teachers/me/invites", headers=teacher.headers)
    assert (await embedded.post(f"/api/v1/invites/{invite.json()['code']}/accept",
                                headers=student.headers)).status_code == 200
    path = f"/api/v1/users/{student.id}/links/teachers/{teacher.id}"
    assert (await embedded.delete(path, headers=other.headers)).status_code == 404
    assert (await embedded.delete(path, headers=teacher.headers)).status_code == 204
    assert (await embedded.get(f"/api/v1/users/{student.id}", headers=teacher.headers)).status_code == 404


async def test_a_new_link_is_told_to_the_student(embedded):
    student = await register_and_login(embedded, "student")
    parent = await register_and_login(embedded, "parent", full_name="Polina Parent")
    code = await _parent_invite(embedded, student)
    assert (await embedded.post(f"/api/v1/invites/{code}/accept", headers=parent.headers)).status_code == 200
    await settle(embedded)
    inbox = (await embedded.get("/api/v1/notifications", headers=student.headers)).json()["items"]
    assert [n["kind"] for n in inbox] == ["link_created"]
    assert "Polina Parent" in inbox[0]["body"]


async def test_a_personal_teacher_invite_is_single_use_and_a_class_code_is_revocable(embedded):
    teacher = await register_and_login(embedded, "teacher")
    first, second, third = [await register_and_login(embedded, "student") for _ in range(3)]
    personal = (await embedded.post("/api/v1/teachers/me/invites", headers=teacher.headers)).json()
    assert personal["multi_use"] is False
    assert (await embedded.post(f"/api/v1/invites/{personal['code']}/accept", headers=first.headers)).status_code == 200
    assert (await embedded.post(f"/api/v1/invites/{personal['code']}/accept", headers=second.headers)).status_code == 409

    made = await embedded.post("/api/v1/teachers/me/invites", json={"class_code": True}, headers=teacher.headers)
    assert made.status_code == 201 and made.json()["multi_use"] is True
    code = made.json()["code"]
    assert (await embedded.post(f"/api/v1/invites/{code}/accept", headers=second.headers)).status_code == 200
    listed = await embedded.get("/api/v1/teachers/me/invites", headers=teacher.headers)
    assert listed.status_code == 200
    by_code = {i["code"]: i for i in listed.json()["items"]}
    assert [u["student_id"] for u in by_code[code]["uses"]] == [second.id]
    assert [u["student_id"] for u in by_code[personal["code"]]["uses"]] == [first.id]

    assert (await embedded.delete(f"/api/v1/teachers/me/invites/{code}", headers=teacher.headers)).status_code == 204
    assert (await embedded.post(f"/api/v1/invites/{code}/accept", headers=third.headers)).status_code == 409
