"""The inbox through the gateway of the embedded platform: a teacher's lessons become the
student's notifications, which the student reads, marks read and tunes; nobody else sees them."""
from datetime import UTC, datetime, timedelta

from tests.e2e.conftest import register_and_login, settle


async def lessons_that_notify(client, teacher, student) -> None:
    # midday in Moscow, the student's zone: an evening lesson would also earn the hidden «Сова»
    starts_at = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0,
                                                                          microsecond=0)
    for hours, finish in ((0, "complete"), (3, "cancel")):
        created = await client.post("/api/v1/lessons", headers=teacher.headers, json={
            "student_id": student.id, "subject": "Maths", "title": "Fractions",
            "starts_at": (starts_at + timedelta(hours=hours)).isoformat(), "duration_minutes": 60})
        assert created.status_code == 201, created.text
        lesson = created.json()["id"]
        if finish == "complete":
            assert (await client.post(f"/api/v1/lessons/{lesson}/start", headers=teacher.headers)).status_code == 200
            done = await client.post(f"/api/v1/lessons/{lesson}/complete", headers=teacher.headers,
                                     json={"score": 90})
        else:
            done = await client.post(f"/api/v1/lessons/{lesson}/cancel", headers=teacher.headers,
                                     json={"reason": "ill"})
        assert done.status_code == 200, done.text


async def test_a_student_reads_marks_and_tunes_their_notifications_through_the_gateway(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student
    stranger = await register_and_login(client, "student")
    await lessons_that_notify(client, teacher, student)
    await settle(client)

    inbox = await client.get("/api/v1/notifications", headers=student.headers)
    assert inbox.status_code == 200, inbox.text
    items = inbox.json()["items"]
    # the completed lesson also earned the student «Первый шаг» in the student service, and the
    # link to the teacher was told to the student
    assert sorted(i["kind"] for i in items) == [
        "achievement_earned", "lesson_cancelled", "lesson_completed", "link_created"]
    assert all(not i["read"] for i in items)
    completed = next(i for i in items if i["kind"] == "lesson_completed")

    for method, path in (("GET", f"/api/v1/notifications/{completed['id']}"),
                         ("POST", f"/api/v1/notifications/{completed['id']}/read")):
        assert (await client.request(method, path, headers=stranger.headers)).status_code == 404
    assert (await client.get("/api/v1/notifications", headers=stranger.headers)).json()["items"] == []
    assert (await client.get("/api/v1/notifications")).status_code == 401

    read = await client.post(f"/api/v1/notifications/{completed['id']}/read", headers=student.headers)
    assert read.status_code == 200 and read.json()["read"] is True
    unread = await client.get("/api/v1/notifications", params={"unread": "true"}, headers=student.headers)
    assert sorted(i["kind"] for i in unread.json()["items"]) == ["achievement_earned", "lesson_cancelled",
                                                                 "link_created"]
    marked = await client.post("/api/v1/notifications/read-all", headers=student.headers)
    assert marked.json() == {"marked": 3}

    body = {"channels": {"lesson_reminder": {"email": False}}, "quiet_hours": {"start": "22:00", "end": "08:00"}}
    saved = await client.put("/api/v1/notifications/preferences", headers=student.headers, json=body)
    assert saved.status_code == 200, saved.text
    got = await client.get("/api/v1/notifications/preferences", headers=student.headers)
    assert got.json()["channels"]["lesson_reminder"] == {"email": False, "telegram": True}
    assert got.json()["quiet_hours"] == body["quiet_hours"]
    nonsense = await client.put("/api/v1/notifications/preferences", headers=student.headers,
                                json={"quiet_hours": {"start": "late", "end": "early"}})
    assert nonsense.status_code == 422
    assert nonsense.headers["content-type"] == "application/problem+json"
