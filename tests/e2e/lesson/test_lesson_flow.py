"""A tutor's day through the gateway of the embedded platform: accounts and links come from the
user service, lessons from the lesson service, and the client sees only the gateway."""
import asyncio
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from icalendar import Calendar

from tests.e2e.conftest import Account, link, register_and_login, settle


def in_days(days: int, hour: int) -> str:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0).isoformat()


async def book(client, teacher: Account, student_id: str, starts_at: str, **extra):
    return await client.post("/api/v1/lessons", headers=teacher.headers, json={
        "student_id": student_id, "subject": "English", "title": "Past Simple", "starts_at": starts_at,
        "duration_minutes": 60, **extra})


async def test_a_teacher_schedules_starts_and_completes_a_lesson_through_the_gateway(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher", full_name="Anna Teacher", timezone="Europe/Berlin")
    student = await register_and_login(client, "student", full_name="Ivan Student")
    stranger = await register_and_login(client, "student")
    await link(client, teacher, student)
    await settle(client)

    booked = await book(client, teacher, student.id, in_days(2, 9), price={"amount": 150000, "currency": "RUB"})
    assert booked.status_code == 201, booked.text
    lesson = booked.json()
    assert (lesson["status"], lesson["price"]) == ("scheduled", {"amount": 150000, "currency": "RUB"})
    url = f"/api/v1/lessons/{lesson['id']}"

    assert (await client.get(url, headers=student.headers)).status_code == 200
    assert (await client.get(url, headers=stranger.headers)).status_code == 404
    assert (await client.post(f"{url}/start", headers=student.headers)).status_code == 403
    started = await client.post(f"{url}/start", headers=teacher.headers)
    assert started.json()["status"] == "in_progress"
    assert (await client.post(f"{url}/complete", headers=student.headers, json={"score": 100})).status_code == 403

    completed = await client.post(f"{url}/complete", json={"attendance": "present", "score": 95},
                                  headers={**teacher.headers, "X-Correlation-ID": "e2e-complete-1"})

    assert completed.status_code == 200, completed.text
    assert completed.headers["x-correlation-id"] == "e2e-complete-1"
    assert (completed.json()["status"], completed.json()["score"]) == ("completed", 95)
    await settle(client)
    published = [e for e in client.app.state.runtime.bus.published
                 if e.type == "lesson.completed" and e.payload["lesson_id"] == lesson["id"]]
    assert [e.correlation_id for e in published] == ["e2e-complete-1"]
    assert (published[0].payload["attended"], published[0].payload["price"]) == (True, 150000)
    listed = await client.get("/api/v1/lessons", params={"status": "completed"}, headers=student.headers)
    assert [i["id"] for i in listed.json()["items"]] == [lesson["id"]]


async def test_wrong_moves_are_refused_through_the_gateway(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student
    unlinked = await register_and_login(client, "student")

    past = await book(client, teacher, student.id, in_days(-1, 9))
    not_linked = await book(client, teacher, unlinked.id, in_days(3, 9))
    no_offset = await book(client, teacher, student.id, in_days(3, 9).replace("+00:00", ""))
    assert [r.status_code for r in (past, not_linked, no_offset)] == [422, 422, 422]
    assert past.headers["content-type"] == "application/problem+json"

    lesson = (await book(client, teacher, student.id, in_days(3, 11))).json()
    clash = await book(client, teacher, student.id, in_days(3, 11).replace("T11:00", "T11:59"))
    back_to_back = await book(client, teacher, student.id, in_days(3, 12))
    assert (clash.status_code, back_to_back.status_code) == (409, 201)

    cancelled = await client.post(f"/api/v1/lessons/{lesson['id']}/cancel", headers=student.headers,
                                  json={"reason": "sick"})
    assert cancelled.json()["cancellation_reason"] == "sick"
    too_late = await client.post(f"/api/v1/lessons/{lesson['id']}/complete", headers=teacher.headers)
    assert too_late.status_code == 409 and "cancelled" in too_late.json()["detail"]


async def test_two_simultaneous_bookings_of_one_slot_in_embedded_mode_leave_one(embedded):
    client = embedded
    teacher = await register_and_login(client, "teacher")
    first, second = await register_and_login(client, "student"), await register_and_login(client, "student")
    await link(client, teacher, first)
    await link(client, teacher, second)
    await settle(client)
    answers = await asyncio.gather(book(client, teacher, first.id, in_days(5, 10)),
                                   book(client, teacher, second.id, in_days(5, 10).replace("T10:00", "T10:30")))
    assert sorted(a.status_code for a in answers) == [201, 409]


async def test_the_calendar_feed_through_the_gateway_parses_and_shows_the_lessons(linked):
    client, teacher, student = linked.client, linked.teacher, linked.student
    series = await book(client, teacher, student.id, in_days(4, 15), recurrence={"weekly_count": 3})
    assert series.status_code == 201, series.text

    issued = await client.post("/api/v1/lessons/calendar/token", headers=student.headers)
    feed_url = urlsplit(issued.json()["url"])
    feed = await client.get(f"{feed_url.path}?{feed_url.query}")  # what a calendar app does: no bearer

    assert feed.status_code == 200, feed.text
    assert feed.headers["content-type"].startswith("text/calendar")
    events = Calendar.from_ical(feed.content).walk("VEVENT")
    assert sorted(str(e["UID"]) for e in events) == sorted(i["id"] for i in series.json()["items"])
    assert {str(e["SUMMARY"]) for e in events} == {"Past Simple — Anna Teacher"}
