"""A month of a teacher with four students, made through the public API, and the numbers the
analytics service must show for it, computed from what was done."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx
from PIL import Image

from tests.e2e.conftest import Account, link, register_and_login

MOSCOW = ZoneInfo("Europe/Moscow")
PRICE = 150_000


@dataclass
class Lesson:
    student: str
    starts_at: datetime
    minutes: int
    outcome: str            # attended, absent, cancelled_by_student, cancelled_by_teacher, scheduled


@dataclass
class Month:
    teacher: Account
    students: list[Account]
    parent: Account
    idle: Account                       # linked, never active: at risk
    lessons: list[Lesson] = field(default_factory=list)
    start: datetime = datetime.min
    end: datetime = datetime.min

    def of(self, student: Account) -> list[Lesson]:
        return [x for x in self.lessons if x.student == student.id]

    @property
    def params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


# what each student's four weekly lessons become
PLANS = {
    "Мария Иванова": (60, ["attended", "attended", "attended", "attended"]),
    "Пётр Смирнов": (60, ["attended", "absent", "cancelled_by_student", "attended"]),
    "Ольга Кузнецова": (45, ["attended", "cancelled_by_teacher", "attended", "scheduled"]),
}


def monday(moment: datetime) -> date:
    day = moment.astimezone(MOSCOW).date()
    return day - timedelta(days=day.weekday())


async def seed_month(client: httpx.AsyncClient) -> Month:
    teacher = await register_and_login(client, "teacher", full_name="Анна Петровна")
    students = [await register_and_login(client, "student", full_name=name) for name in PLANS]
    idle = await register_and_login(client, "student", full_name="Дмитрий Тихий")
    parent = await register_and_login(client, "parent", full_name="Елена Иванова")
    for student in [*students, idle]:
        await link(client, teacher, student)
    invite = await client.post("/api/v1/students/me/parent-invites", headers=students[0].headers)
    accepted = await client.post(f"/api/v1/invites/{invite.json()['code']}/accept", headers=parent.headers)
    assert accepted.status_code == 200, accepted.text
    month = Month(teacher, students, parent, idle)
    first_day = datetime.now(MOSCOW).date() + timedelta(days=2)
    month.start = datetime.combine(first_day, time(0), MOSCOW)
    month.end = month.start + timedelta(days=28)
    for hour, (student, (minutes, outcomes)) in enumerate(zip(students, PLANS.values(), strict=True), start=11):
        await _book_and_run(client, month, student, datetime.combine(first_day, time(hour), MOSCOW), minutes, outcomes)
    return month


async def _book_and_run(client: httpx.AsyncClient, month: Month, student: Account, first: datetime, minutes: int,
                        outcomes: list[str]) -> None:
    booked = await client.post("/api/v1/lessons", headers=month.teacher.headers, json={
        "student_id": student.id, "subject": "Английский", "title": "Времена глаголов",
        "starts_at": first.isoformat(), "duration_minutes": minutes,
        "price": {"amount": PRICE, "currency": "RUB"},
        "recurrence": {"weekly_count": len(outcomes)}})
    assert booked.status_code == 201, booked.text
    for item, outcome in zip(booked.json()["items"], outcomes, strict=True):
        url = f"/api/v1/lessons/{item['id']}"
        if outcome in ("attended", "absent"):
            started = await client.post(f"{url}/start", headers=month.teacher.headers)
            assert started.status_code == 200, started.text
            done = await client.post(f"{url}/complete", headers=month.teacher.headers,
                                     json={"attended": outcome == "attended", "score": 80})
        elif outcome.startswith("cancelled"):
            who = student if outcome == "cancelled_by_student" else month.teacher
            done = await client.post(f"{url}/cancel", headers=who.headers, json={"reason": "Болезнь"})
        else:
            done = None
        assert done is None or done.status_code == 200, done.text
        month.lessons.append(Lesson(student.id, datetime.fromisoformat(item["starts_at"]), minutes, outcome))


def expected_progress(month: Month, student: Account) -> dict:
    lessons = month.of(student)
    count = {o: sum(1 for x in lessons if x.outcome == o) for o in
             ("attended", "absent", "cancelled_by_student", "cancelled_by_teacher")}
    completed = count["attended"] + count["absent"]
    by_whom = {role: count[f"cancelled_by_{role}"] for role in ("student", "teacher") if count[f"cancelled_by_{role}"]}
    due = completed + count["cancelled_by_student"]
    return {"completed": completed, "attended": count["attended"], "missed": count["absent"],
            "cancelled": sum(by_whom.values()), "cancelled_by": by_whom,
            "attendance_rate": round(count["attended"] / due, 3) if due else None}


def expected_weeks(month: Month, student: Account | None = None) -> dict[str, dict]:
    """Per week (its Monday): lessons held (completed), hours of those attended, cancelled."""
    weeks: dict[str, dict] = {}
    for lesson in month.lessons if student is None else month.of(student):
        week = weeks.setdefault(monday(lesson.starts_at).isoformat(), {"completed": 0, "attended": 0, "hours": 0.0,
                                                                        "held_hours": 0.0, "cancelled": 0})
        if lesson.outcome in ("attended", "absent"):
            week["completed"] += 1
            week["held_hours"] = round(week["held_hours"] + lesson.minutes / 60, 2)
        if lesson.outcome == "attended":
            week["attended"] += 1
            week["hours"] = round(week["hours"] + lesson.minutes / 60, 2)
        if lesson.outcome.startswith("cancelled"):
            week["cancelled"] += 1
    return weeks


def assert_png(body: bytes, *, width: int, height: int) -> None:
    image = Image.open(io.BytesIO(body))
    assert image.format == "PNG" and image.size == (width, height)
    colours = image.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 20      # drawn on, not blank


def read_csv(body: bytes) -> list[dict[str, str]]:
    assert body.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


BASE = "/api/v1/analytics"


async def answers(client: httpx.AsyncClient, month: Month) -> dict[str, dict]:
    """Every student's progress and the teacher's overview over the month, as the teacher sees them."""
    found = {}
    for student in month.students:
        answer = await client.get(f"{BASE}/students/{student.id}/progress", params=month.params,
                                  headers=month.teacher.headers)
        assert answer.status_code == 200, answer.text
        found[student.id] = answer.json()
    overview = await client.get(f"{BASE}/teachers/me/overview", params=month.params, headers=month.teacher.headers)
    assert overview.status_code == 200, overview.text
    found["overview"] = overview.json()
    return found


def counted(found: dict[str, dict], month: Month) -> bool:
    """Whether every lesson of the month is in the answers (a positive signal that the events are in)."""
    return all(found[s.id]["lessons"]["completed"] + found[s.id]["lessons"]["cancelled"] ==
               sum(1 for x in month.of(s) if x.outcome != "scheduled") for s in month.students)


def assert_exact_numbers(found: dict[str, dict], month: Month, xp: dict[str, int]) -> None:
    """Progress and overview hold the numbers computed from what the month did."""
    for student in month.students:
        body = found[student.id]
        lessons = body["lessons"]
        assert {k: lessons[k] for k in expected_progress(month, student)} == expected_progress(month, student)
        weeks = {w["week"]: w for w in body["weeks"]}
        for week, want in expected_weeks(month, student).items():
            assert (weeks[week]["lessons_completed"], weeks[week]["lessons_attended"], weeks[week]["hours"],
                    weeks[week]["lessons_cancelled"]) == (want["completed"], want["attended"], want["hours"],
                                                          want["cancelled"])
        assert body["xp"]["total"] == xp[student.id]
        assert body["xp"]["in_range"] == 0   # earned today, before the lessons' weeks
        assert body["student_name"] in PLANS and body["streak_days"] == 1
    body = found["overview"]
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


async def assert_pictures_and_reports(client: httpx.AsyncClient, month: Month) -> None:
    """The charts are real PNGs (a 304 for the one the client holds), the CSV opens with the month's
    lessons and Cyrillic names intact."""
    child = month.students[0]
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
    progress = read_csv((await client.get(f"{BASE}/reports/progress.csv", params=month.params,
                                          headers=month.teacher.headers)).content)
    assert {row["student"]: int(row["lessons_completed"]) for row in progress} == {
        **{name: expected_progress(month, s)["completed"] for s, name in zip(month.students, PLANS)},
        "Дмитрий Тихий": 0}


async def assert_who_sees_what(client: httpx.AsyncClient, month: Month) -> None:
    """The student themself, their teacher and their parent; 404 for any other."""
    stranger_teacher = await register_and_login(client, "teacher")
    other_student = await register_and_login(client, "student")
    child, not_child = month.students[0], month.students[1]
    for viewer, student, status in [(child, child, 200), (other_student, child, 404), (stranger_teacher, child, 404),
                                    (month.parent, child, 200), (month.parent, not_child, 404),
                                    (month.teacher, month.idle, 200)]:
        answer = await client.get(f"{BASE}/students/{student.id}/progress", headers=viewer.headers)
        assert answer.status_code == status, (viewer.role, answer.text)
    refused = await client.get(f"{BASE}/teachers/me/overview", headers=child.headers)
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"


def without_today(found: dict[str, dict]) -> dict[str, dict]:
    """The answers without what depends on the moment asked (none of it does in this month but the streak)."""
    return {key: {**value, "streak_days": None} if key != "overview" else value for key, value in found.items()}
