"""The lesson API on real PostgreSQL: who sees and does what, bad input, lists, the iCal feed."""
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from icalendar import Calendar

from services.lesson.models import ParentLink
from shared.events import ParentLinked
from tests.integration.lesson.world import tomorrow_at


async def test_who_may_see_and_run_a_lesson(world):
    teacher, student = await world.teacher_and_student()
    lesson = (await world.book(teacher, student, tomorrow_at(10))).json()
    url = f"/api/v1/lessons/{lesson['id']}"
    stranger, other_teacher = world.person("student"), world.person("teacher")

    assert (await world.client.get(url, headers=student.headers)).status_code == 200
    assert (await world.client.get(url, headers=stranger.headers)).status_code == 404
    assert (await world.client.get(url, headers=other_teacher.headers)).status_code == 404
    assert (await world.client.post(f"{url}/start", headers=other_teacher.headers)).status_code == 404
    assert (await world.client.post(f"{url}/start", headers=student.headers)).status_code == 403
    assert (await world.client.post(f"{url}/start", headers=teacher.headers)).status_code == 200
    assert (await world.client.post(f"{url}/complete", headers=student.headers)).status_code == 403
    assert (await world.client.patch(url, headers=student.headers,
                                     json={"duration_minutes": 30})).status_code == 403
    done = await world.client.post(f"{url}/complete", headers=teacher.headers)
    assert (done.status_code, done.json()["attendance"]) == (200, "present")
    assert (await world.client.get(f"/api/v1/lessons/{uuid.uuid4()}", headers=teacher.headers)).status_code == 404


async def test_transitions_out_of_order_are_conflicts_naming_the_current_status(world):
    teacher, student = await world.teacher_and_student()
    lesson_id = (await world.book(teacher, student, tomorrow_at(11))).json()["id"]
    url = f"/api/v1/lessons/{lesson_id}"

    early = await world.client.post(f"{url}/complete", headers=teacher.headers)
    assert (early.status_code, "'scheduled'" in early.json()["detail"]) == (409, True)
    assert (await world.client.post(f"{url}/cancel", headers=teacher.headers,
                                    json={"reason": "holiday"})).status_code == 200
    for action in ("start", "complete"):
        response = await world.client.post(f"{url}/{action}", headers=teacher.headers)
        assert response.status_code == 409 and "'cancelled'" in response.json()["detail"]
    again = await world.client.post(f"{url}/cancel", headers=student.headers, json={"reason": "x"})
    assert again.status_code == 409
    moved = await world.client.patch(url, headers=teacher.headers, json={"duration_minutes": 30})
    assert moved.status_code == 409


async def test_a_cancelled_lesson_frees_its_time(world):
    teacher, student = await world.teacher_and_student()
    first = (await world.book(teacher, student, tomorrow_at(13))).json()
    await world.client.post(f"/api/v1/lessons/{first['id']}/cancel", headers=teacher.headers,
                            json={"reason": "moved"})
    assert (await world.book(teacher, student, tomorrow_at(13))).status_code == 201


@pytest.mark.parametrize(("change", "field"), [
    ({"starts_at": "2030-01-01T10:00:00"}, "starts_at"),                       # no offset
    ({"starts_at": "2020-01-01T10:00:00+03:00"}, "starts_at"),                 # in the past
    ({"duration_minutes": 14}, "duration_minutes"),
    ({"duration_minutes": 481}, "duration_minutes"),
    ({"lesson_type": "party"}, "lesson_type"),
    ({"price": {"amount": -1, "currency": "RUB"}}, "price"),
    ({"price": {"amount": 100, "currency": "rubles"}}, "price"),
    ({"recurrence": {"weekly_count": 53}}, "recurrence"),
    ({"subject": ""}, "subject"),
    ({"student_id": "not-a-uuid"}, "student_id"),
])
async def test_invalid_bookings_are_422_naming_the_field(world, change, field):
    teacher, student = await world.teacher_and_student()
    body = {"student_id": str(student.id), "subject": "Maths", "title": "Fractions",
            "starts_at": tomorrow_at(10).isoformat(), "duration_minutes": 60, **change}
    response = await world.client.post("/api/v1/lessons", json=body, headers=teacher.headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in {part for error in response.json()["errors"] for part in error["loc"]}


async def test_malformed_unauthorised_and_oversized_requests_are_problems_not_crashes(world):
    teacher, student = await world.teacher_and_student()
    post = world.client.post
    bad_json = await post("/api/v1/lessons", content=b"{not json", headers={
        **teacher.headers, "Content-Type": "application/json"})
    no_token = await post("/api/v1/lessons", json={})
    as_student = await post("/api/v1/lessons", headers=student.headers, json={
        "student_id": str(student.id), "subject": "M", "title": "T",
        "starts_at": tomorrow_at(10).isoformat(), "duration_minutes": 60})
    huge = await post("/api/v1/lessons", headers=teacher.headers, content=b"[" + b"1," * 600_000 + b"1]")
    bad_cursor = await world.client.get("/api/v1/lessons", params={"cursor": "!!!"}, headers=teacher.headers)
    bad_id = await world.client.get("/api/v1/lessons/12", headers=teacher.headers)  # not a lesson's path
    no_reason = await post(f"/api/v1/lessons/{uuid.uuid4()}/cancel", headers=teacher.headers, json={})
    assert [r.status_code for r in (bad_json, no_token, as_student, huge, bad_cursor, bad_id, no_reason)] == \
        [400, 401, 403, 413, 422, 404, 422]


async def test_lists_filter_by_period_and_status_and_page_through(world):
    teacher, student = await world.teacher_and_student()
    day = tomorrow_at(6)
    ids = [(await world.book(teacher, student, day + timedelta(hours=2 * i))).json()["id"] for i in range(5)]
    await world.client.post(f"/api/v1/lessons/{ids[4]}/cancel", headers=teacher.headers, json={"reason": "x"})

    async def listed(**params) -> list[str]:
        found, cursor = [], None
        while True:
            page = await world.client.get("/api/v1/lessons", headers=student.headers,
                                          params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})})
            assert page.status_code == 200, page.text
            found += [item["id"] for item in page.json()["items"]]
            if not (cursor := page.json()["next_cursor"]):
                return found

    assert await listed() == ids
    assert await listed(status="scheduled") == ids[:4]
    assert await listed(status=["cancelled", "completed"]) == ids[4:]
    assert await listed(**{"from": (day + timedelta(hours=2)).isoformat(),
                           "to": (day + timedelta(hours=6)).isoformat()}) == ids[1:3]
    backwards = await world.client.get("/api/v1/lessons", headers=student.headers, params={
        "from": (day + timedelta(hours=6)).isoformat(), "to": day.isoformat()})
    assert backwards.json() == {"items": [], "next_cursor": None}  # an empty range, as its schema allows
    stranger = await world.client.get("/api/v1/lessons", headers=world.person("teacher").headers)
    assert stranger.json() == {"items": [], "next_cursor": None}


async def test_a_parent_sees_their_childs_lessons_and_no_others(world):
    teacher, student = await world.teacher_and_student()
    lesson = (await world.book(teacher, student, tomorrow_at(17))).json()
    parent, other_parent = world.person("parent"), world.person("parent")
    await world.tell(ParentLinked(parent_id=parent.id, student_id=student.id))
    await world.wait_for(ParentLink, parent_id=parent.id, student_id=student.id)

    mine = await world.client.get("/api/v1/lessons", headers=parent.headers)
    assert [i["id"] for i in mine.json()["items"]] == [lesson["id"]]
    assert (await world.client.get(f"/api/v1/lessons/{lesson['id']}", headers=parent.headers)).status_code == 200
    assert (await world.client.get(f"/api/v1/lessons/{lesson['id']}",
                                   headers=other_parent.headers)).status_code == 404
    assert (await world.client.get("/api/v1/lessons", headers=other_parent.headers)).json()["items"] == []
    cancel = await world.client.post(f"/api/v1/lessons/{lesson['id']}/cancel", headers=parent.headers,
                                     json={"reason": "ill"})
    assert cancel.status_code == 403


async def test_an_admin_books_for_a_named_teacher(world):
    teacher, student = await world.teacher_and_student()
    admin = world.person("admin")
    body = {"student_id": str(student.id), "subject": "Maths", "title": "T",
            "starts_at": tomorrow_at(19).isoformat(), "duration_minutes": 30}
    unnamed = await world.client.post("/api/v1/lessons", json=body, headers=admin.headers)
    named = await world.client.post("/api/v1/lessons", json={**body, "teacher_id": str(teacher.id)},
                                    headers=admin.headers)
    assert unnamed.status_code == 422
    assert (named.status_code, named.json()["teacher_id"]) == (201, str(teacher.id))


async def test_the_calendar_feed_shows_the_lessons_and_stops_when_revoked(world):
    teacher, student = await world.teacher_and_student()
    kept = (await world.book(teacher, student, tomorrow_at(10), title="Algebra")).json()
    dropped = (await world.book(teacher, student, tomorrow_at(12), title="Geometry")).json()
    await world.client.patch(f"/api/v1/lessons/{kept['id']}", headers=teacher.headers,
                             json={"starts_at": tomorrow_at(9).isoformat()})
    await world.client.post(f"/api/v1/lessons/{dropped['id']}/cancel", headers=student.headers,
                            json={"reason": "ill"})

    issued = await world.client.post("/api/v1/lessons/calendar/token", headers=student.headers)
    assert issued.status_code == 201
    url = urlsplit(issued.json()["url"])
    assert (url.scheme, url.netloc, url.path) == ("https", "api.repitbot.test", "/api/v1/lessons/calendar.ics")
    token = parse_qs(url.query)["token"][0]

    feed = await world.client.get("/api/v1/lessons/calendar.ics", params={"token": token})  # no bearer
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    events = {str(e["UID"]): e for e in Calendar.from_ical(feed.content).walk("VEVENT")}
    assert set(events) == {kept["id"], dropped["id"]}
    algebra, geometry = events[kept["id"]], events[dropped["id"]]
    assert algebra.decoded("DTSTART") == tomorrow_at(9) and algebra.decoded("DTEND") == tomorrow_at(10)
    assert (str(algebra["SUMMARY"]), str(algebra["STATUS"]), int(algebra["SEQUENCE"])) == \
        ("Algebra — Anna Teacher", "CONFIRMED", 1)
    assert str(geometry["STATUS"]) == "CANCELLED"

    assert (await world.client.get("/api/v1/lessons/calendar.ics",
                                   params={"token": token + "x"})).status_code == 404
    assert (await world.client.get("/api/v1/lessons/calendar.ics", headers=teacher.headers)).status_code == 200
    access_token = world.keys.token(teacher.id, "teacher")
    assert (await world.client.get("/api/v1/lessons/calendar.ics",
                                   params={"token": access_token})).status_code == 200
    assert (await world.client.get("/api/v1/lessons/calendar.ics",
                                   params={"token": "a.b.c"})).status_code == 401
    assert (await world.client.get("/api/v1/lessons/calendar.ics")).status_code == 401
    assert (await world.client.delete("/api/v1/lessons/calendar/token", headers=student.headers)).status_code == 204
    assert (await world.client.get("/api/v1/lessons/calendar.ics", params={"token": token})).status_code == 404


async def test_a_new_feed_url_replaces_the_old_one(world):
    teacher, _ = await world.teacher_and_student()
    first = (await world.client.post("/api/v1/lessons/calendar/token", headers=teacher.headers)).json()["url"]
    second = (await world.client.post("/api/v1/lessons/calendar/token", headers=teacher.headers)).json()["url"]
    token = lambda url: parse_qs(urlsplit(url).query)["token"][0]  # noqa: E731
    assert (await world.client.get("/api/v1/lessons/calendar.ics",
                                   params={"token": token(first)})).status_code == 404
    assert (await world.client.get("/api/v1/lessons/calendar.ics",
                                   params={"token": token(second)})).status_code == 200


async def test_lesson_counters_are_exposed_as_metrics(world):
    teacher, student = await world.teacher_and_student()
    await world.book(teacher, student, tomorrow_at(20), lesson_type="trial")
    await world.book(teacher, student, tomorrow_at(20))
    metrics = (await world.client.get("/metrics")).text
    assert 'repitbot_lessons_scheduled_total{lesson_type="trial"}' in metrics
    assert 'repitbot_lesson_conflicts_total{operation="create"}' in metrics

