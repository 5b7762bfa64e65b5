"""Teacher and parent invites, links and Telegram linking; their events through outbox and RabbitMQ."""
import uuid
from datetime import timedelta

from sqlalchemy import update

from services.user.models import Invite, ParentLink, TeacherLink
from shared.events import utcnow
from tests.integration.user.conftest import BOT_TOKEN
from tests.support import eventually

PROBLEM = "application/problem+json"


async def _invite(service, owner, path="/api/v1/teachers/me/invites"):
    response = await service.client.post(path, headers=owner.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def test_a_student_accepting_an_invite_is_linked_and_the_event_reaches_rabbitmq_once(service, tap):
    teacher, student = await service.account("teacher"), await service.account("student")
    invite = await _invite(service, teacher)
    assert invite["url"] == f"https://api.repitbot.test/api/v1/invites/{invite['code']}"
    assert invite["telegram_url"] == f"https://t.me/RepitTestBot?start=invite_{invite['code']}"
    assert invite["kind"] == "teacher"

    correlation = f"corr-{uuid.uuid4().hex}"
    accepted = await service.client.post(f"/api/v1/invites/{invite['code']}/accept",
                                         headers={**student.headers, "X-Correlation-ID": correlation})
    assert accepted.status_code == 200
    assert accepted.json() | {"parent_id": None} == {"kind": "teacher", "teacher_id": teacher.id, "parent_id": None,
                                                     "student_id": student.id, "created": True}
    again = await service.client.post(f"/api/v1/invites/{invite['code']}/accept", headers=student.headers)
    assert again.status_code == 200 and again.json()["created"] is False

    received = await eventually(lambda: tap.of("user.teacher_linked", student_id=student.id))
    assert received[0].payload == {"teacher_id": teacher.id, "student_id": student.id}
    assert received[0].correlation_id == correlation
    assert tap.message(received[0]).correlation_id == correlation
    in_outbox = [e for e in await service.outbox("user.teacher_linked") if e.payload["student_id"] == student.id]
    assert len(in_outbox) == 1 and in_outbox[0].id == received[0].id
    assert await service.count(TeacherLink, TeacherLink.student_id == uuid.UUID(student.id)) == 1

    students = await service.client.get("/api/v1/teachers/me/students", headers=teacher.headers)
    assert [s["id"] for s in students.json()["items"]] == [student.id]


async def test_a_parent_accepting_a_students_invite_is_linked_to_the_child(service, tap):
    student, parent = await service.account("student"), await service.account("parent")
    invite = await _invite(service, student, "/api/v1/students/me/parent-invites")
    assert invite["kind"] == "parent"
    accepted = await service.client.post(f"/api/v1/invites/{invite['code']}/accept", headers=parent.headers)
    assert accepted.status_code == 200
    assert accepted.json()["parent_id"] == parent.id and accepted.json()["student_id"] == student.id

    received = await eventually(lambda: tap.of("user.parent_linked", student_id=student.id))
    assert received[0].payload == {"parent_id": parent.id, "student_id": student.id}
    child = await service.client.get(f"/api/v1/users/{student.id}", headers=parent.headers)
    assert child.status_code == 200
    children = await service.client.get("/api/v1/users", headers=parent.headers)
    assert [c["id"] for c in children.json()["items"]] == [student.id]


async def test_an_invite_for_the_wrong_role_unknown_or_expired_is_refused_without_a_link(service):
    teacher = await service.account("teacher")
    student, parent = await service.account("student"), await service.account("parent")
    invite = await _invite(service, teacher)

    wrong_role = await service.client.post(f"/api/v1/invites/{invite['code']}/accept", headers=parent.headers)
    assert wrong_role.status_code == 403 and wrong_role.headers["content-type"] == PROBLEM
    unknown = await service.client.post("/api/v1/invites/no-such-code/accept", headers=student.headers)
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM

    async with service.app.state.session_factory() as session, session.begin():
        await session.execute(update(Invite).where(Invite.code == invite["code"])
                              .values(expires_at=utcnow() - timedelta(minutes=1)))
    expired = await service.client.post(f"/api/v1/invites/{invite['code']}/accept", headers=student.headers)
    assert expired.status_code == 409 and "expired" in expired.json()["detail"]
    assert await service.count(TeacherLink, TeacherLink.teacher_id == uuid.UUID(teacher.id)) == 0
    assert await service.count(ParentLink, ParentLink.parent_id == uuid.UUID(parent.id)) == 0


async def test_invites_are_made_only_by_teachers_for_students_and_students_for_parents(service):
    student, parent = await service.account("student"), await service.account("parent")
    assert (await service.client.post("/api/v1/teachers/me/invites", headers=student.headers)).status_code == 403
    assert (await service.client.post("/api/v1/students/me/parent-invites", headers=parent.headers)
            ).status_code == 403
    assert (await service.client.post("/api/v1/teachers/me/invites")).status_code == 401


async def test_an_invite_can_be_looked_at_before_accepting(service):
    teacher = await service.account("teacher", full_name="Мария Ивановна")
    invite = await _invite(service, teacher)
    info = await service.client.get(f"/api/v1/invites/{invite['code']}")  # before logging in
    assert info.status_code == 200
    assert info.json()["inviter_name"] == "Мария Ивановна" and info.json()["expired"] is False


async def test_a_telegram_link_token_links_the_chat_once(service, tap):
    user = await service.account("student")
    made = await service.client.post("/api/v1/users/me/telegram-link", headers=user.headers)
    assert made.status_code == 201
    token = made.json()["token"]
    assert made.json()["telegram_url"] == f"https://t.me/RepitTestBot?start={token}"
    chat_id = int(uuid.uuid4().int % 10**12)

    as_bot = {"X-Bot-Token": BOT_TOKEN}
    for headers in ({}, {"X-Bot-Token": "guess"}):
        refused = await service.client.post("/api/v1/telegram/link", headers=headers,
                                            json={"token": token, "telegram_chat_id": chat_id})
        assert refused.status_code == 401
    linked = await service.client.post("/api/v1/telegram/link", headers=as_bot,
                                       json={"token": token, "telegram_chat_id": chat_id})
    assert linked.status_code == 200 and linked.json()["user_id"] == user.id
    again = await service.client.post("/api/v1/telegram/link", headers=as_bot,
                                      json={"token": token, "telegram_chat_id": chat_id + 1})
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    unknown = await service.client.post("/api/v1/telegram/link", headers=as_bot,
                                        json={"token": "made-up", "telegram_chat_id": chat_id})
    assert unknown.status_code == 404

    me = await service.client.get("/auth/me", headers=user.headers)
    assert me.json()["telegram_linked"] is True
    received = await eventually(lambda: tap.of("user.telegram_linked", user_id=user.id))
    assert received[0].payload == {"user_id": user.id, "telegram_chat_id": chat_id}


async def test_a_chat_linked_to_a_second_account_moves_there(service):
    first, second = await service.account(), await service.account("parent")
    chat_id = int(uuid.uuid4().int % 10**12)
    for account in (first, second):
        token = (await service.client.post("/api/v1/users/me/telegram-link", headers=account.headers)).json()["token"]
        linked = await service.client.post("/api/v1/telegram/link", headers={"X-Bot-Token": BOT_TOKEN},
                                           json={"token": token, "telegram_chat_id": chat_id})
        assert linked.status_code == 200
    assert (await service.client.get("/auth/me", headers=first.headers)).json()["telegram_linked"] is False
    assert (await service.client.get("/auth/me", headers=second.headers)).json()["telegram_linked"] is True
    updates = [e for e in await service.outbox("user.updated") if e.payload["user_id"] == first.id]
    assert [e.payload["changed"] for e in updates] == [{"telegram_linked": False}]


async def test_an_expired_telegram_link_token_is_refused(start_user_service):
    async with start_user_service(telegram_link_ttl_minutes=0) as service:
        user = await service.account()
        token = (await service.client.post("/api/v1/users/me/telegram-link", headers=user.headers)).json()["token"]
        response = await service.client.post("/api/v1/telegram/link", headers={"X-Bot-Token": BOT_TOKEN},
                                             json={"token": token, "telegram_chat_id": 12345})
        assert response.status_code == 409
