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
