"""Analytics through the gateway of the embedded platform: a month of a teacher with four
students, the exact numbers of progress and overview, the charts, the CSV, who may see what, and
a rebuild from the event store that gives the same answers as live consumption."""
from __future__ import annotations

from datetime import timedelta

from services.analytics.projection import rebuild
from tests.e2e.analytics.flow import (
    Month,
    answers,
    assert_exact_numbers,
    assert_pictures_and_reports,
    assert_who_sees_what,
    seed_month,
    without_today,
)
from tests.e2e.conftest import settle


async def hand_in_and_grade(client, month: Month, *, score: int, max_score: int) -> str:
    """The first student's homework, due inside the month, handed in at once and graded."""
    student = month.students[0]
    assigned = await client.post("/api/v1/homework", headers=month.teacher.headers, json={
        "student_id": student.id, "title": "Дроби", "max_score": max_score,
        "due_at": (month.start + timedelta(days=1)).isoformat()})
    assert assigned.status_code == 201, assigned.text
    url = f"/api/v1/homework/{assigned.json()['id']}"
    handed_in = await client.post(f"{url}/submissions", headers=student.headers,
                                   files={"text": (None, "Ответы")})
    assert handed_in.status_code == 201, handed_in.text
    graded = await client.post(f"{url}/grade", headers=month.teacher.headers, json={"score": score})
    assert graded.status_code == 200, graded.text
    return assigned.json()["id"]


async def test_a_seeded_month_shows_exact_numbers_charts_csv_and_the_same_after_rebuild(embedded):
    client = embedded
    month = await seed_month(client)
    homework = await hand_in_and_grade(client, month, score=8, max_score=10)
    await settle(client)
    published = client.app.state.runtime.bus.published
    xp = {s.id: max(e.payload["total_xp"] for e in published
                    if e.type == "xp.earned" and e.payload["student_id"] == s.id) for s in month.students}

    live = await answers(client, month)
    assert_exact_numbers(live, month, xp)
    done = live[month.students[0].id]["homework"]
    assert (done["assigned"], done["submitted"], done["on_time"], done["on_time_rate"], done["graded"],
            done["average_score"]) == (1, 1, 1, 1.0, 1, 80.0)
    assert [(p["homework_id"], p["title"], p["percent"]) for p in done["scores"]] == [(homework, "Дроби", 80.0)]
    overview = live["overview"]
    assert (overview["homework_submitted"], overview["homework_on_time"], overview["homework_on_time_rate"]) == (
        1, 1, 1.0)
    await assert_who_sees_what(client, month)
    await assert_pictures_and_reports(client, month)

    assert await rebuild(client.app.state.service_apps["analytics"].state.session_factory) > 0
    assert without_today(await answers(client, month)) == without_today(live)
