"""Analytics through the gateway of the embedded platform: a month of a teacher with four
students, the exact numbers of progress and overview, the charts, the CSV, who may see what, and
a rebuild from the event store that gives the same answers as live consumption."""
from __future__ import annotations

from services.analytics.projection import rebuild
from tests.e2e.analytics.flow import (
    PLANS,
    assert_png,
    expected_progress,
    expected_weeks,
    read_csv,
    seed_month,
)
from tests.e2e.conftest import register_and_login, settle

BASE = "/api/v1/analytics"


async def test_a_seeded_month_shows_exact_numbers_charts_csv_and_the_same_after_rebuild(embedded):
    client = embedded
    month = await seed_month(client)
    await settle(client)
    published = client.app.state.runtime.bus.published

    progress = {}
    for student in month.students:
        answer = await client.get(f"{BASE}/students/{student.id}/progress", params=month.params,
                                  headers=month.teacher.headers)
        assert answer.status_code == 200, answer.text
        body = progress[student.id] = answer.json()
        lessons = body["lessons"]
        assert {k: lessons[k] for k in expected_progress(month, student)} == expected_progress(month, student)
        weeks = {w["week"]: w for w in body["weeks"]}
        for week, want in expected_weeks(month, student).items():
            assert (weeks[week]["lessons_completed"], weeks[week]["lessons_attended"], weeks[week]["hours"],
                    weeks[week]["lessons_cancelled"]) == (want["completed"], want["attended"], want["hours"],
                                                          want["cancelled"])
        xp = [e for e in published if e.type == "xp.earned" and e.payload["student_id"] == student.id]
        assert body["xp"]["total"] == max(e.payload["total_xp"] for e in xp)
        assert body["xp"]["in_range"] == 0   # earned today, before the lessons' weeks
        assert body["student_name"] in PLANS and body["streak_days"] == 1

    overview = await client.get(f"{BASE}/teachers/me/overview", params=month.params, headers=month.teacher.headers)
    assert overview.status_code == 200, overview.text
    body = overview.json()
    weeks = {w["week"]: w for w in body["weeks"]}
    for week, want in expected_weeks(month).items():
        assert (weeks[week]["lessons"], weeks[week]["hours"], weeks[week]["cancelled"]) == (
            want["completed"], want["held_hours"], want["cancelled"])
    held = [x for x in month.lessons if x.outcome in ("attended", "absent")]
    assert body["totals"]["lessons"] == len(held)
    assert body["totals"]["hours"] == round(sum(x.minutes for x in held) / 60, 2)
    assert body["totals"]["cancelled"] == sum(1 for x in month.lessons if x.outcome.startswith("cancelled"))
    assert (body["students"], body["active_students"]) == (4, 3)
    assert [(r["student_id"], r["inactive"]) for r in body["at_risk"]] == [(month.idle.id, True)]

    # who may see what: 404 for anyone else's student
    stranger_teacher = await register_and_login(client, "teacher")
    other_student = await register_and_login(client, "student")
    child, not_child = month.students[0], month.students[1]
    for viewer, student, status in [(child, child, 200), (other_student, child, 404), (stranger_teacher, child, 404),
                                    (month.parent, child, 200), (month.parent, not_child, 404)]:
        answer = await client.get(f"{BASE}/students/{student.id}/progress", headers=viewer.headers)
        assert answer.status_code == status, (viewer.role, answer.text)
    assert (await client.get(f"{BASE}/teachers/me/overview", headers=child.headers)).status_code == 403

    chart = await client.get(f"{BASE}/students/{child.id}/progress.png", params=month.params,
                             headers=month.parent.headers)
    assert chart.status_code == 200 and chart.headers["content-type"] == "image/png"
    assert_png(chart.content, width=900, height=800)
    again = await client.get(f"{BASE}/students/{child.id}/progress.png", params=month.params,
                             headers={**month.parent.headers, "If-None-Match": chart.headers["etag"]})
    assert again.status_code == 304
    picture = await client.get(f"{BASE}/teachers/me/overview.png", params=month.params, headers=month.teacher.headers)
    assert picture.status_code == 200
    assert_png(picture.content, width=900, height=600)

    report = await client.get(f"{BASE}/reports/lessons.csv", params=month.params, headers=month.teacher.headers)
    assert report.status_code == 200 and report.headers["content-type"].startswith("text/csv")
    rows = read_csv(report.content)
    assert len(rows) == len(month.lessons)
    assert {row["student"] for row in rows} == set(PLANS) and {row["teacher"] for row in rows} == {"Анна Петровна"}
    assert sorted(row["status"] for row in rows) == sorted(
        "completed" if x.outcome in ("attended", "absent") else "scheduled" if x.outcome == "scheduled"
        else "cancelled" for x in month.lessons)
    students_csv = read_csv((await client.get(f"{BASE}/reports/progress.csv", params=month.params,
                                              headers=month.teacher.headers)).content)
    assert {row["student"]: int(row["lessons_completed"]) for row in students_csv} == {
        **{s.id and name: expected_progress(month, s)["completed"] for s, name in zip(month.students, PLANS)},
        "Дмитрий Тихий": 0}

    analytics = client.app.state.service_apps["analytics"]
    assert await rebuild(analytics.state.session_factory) > 0
    for student in month.students:
        answer = await client.get(f"{BASE}/students/{student.id}/progress", params=month.params,
                                  headers=month.teacher.headers)
        assert {**answer.json(), "streak_days": None} == {**progress[student.id], "streak_days": None}
    rebuilt = await client.get(f"{BASE}/teachers/me/overview", params=month.params, headers=month.teacher.headers)
    assert rebuilt.json() == body
