"""The flow both end-to-end tests run: a teacher completes a lesson, the student progresses."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

MOSCOW = ZoneInfo("Europe/Moscow")


def noon_in_two_days() -> str:
    """A lesson time far from any night-time achievement (22:00-05:00 in the student's zone)."""
    day = datetime.now(MOSCOW).date() + timedelta(days=2)
    return datetime.combine(day, time(12), MOSCOW).isoformat()


async def complete_a_lesson(client: httpx.AsyncClient, teacher_headers: dict[str, str], student_id: str,
                            *, score: int = 90) -> httpx.Response:
    """Book, start and complete a lesson; the `/complete` response (with its X-Correlation-ID)."""
    booked = await client.post("/api/v1/lessons", headers=teacher_headers, json={
        "student_id": student_id, "subject": "Maths", "title": "Fractions",
        "starts_at": noon_in_two_days(), "duration_minutes": 60})
    assert booked.status_code == 201, booked.text
    url = f"/api/v1/lessons/{booked.json()['id']}"
    started = await client.post(f"{url}/start", headers=teacher_headers)
    assert started.status_code == 200, started.text
    completed = await client.post(f"{url}/complete", headers=teacher_headers, json={"score": score})
    assert completed.status_code == 200, completed.text
    return completed


async def assert_progress_shown(client: httpx.AsyncClient, student_headers: dict[str, str], student_id: str,
                                *, xp: int) -> None:
    profile = await client.get(f"/api/v1/students/{student_id}/profile", headers=student_headers)
    assert profile.status_code == 200, profile.text
    assert (profile.json()["xp"], profile.json()["achievements_earned"]) == (xp, 1)
    achievements = await client.get(f"/api/v1/students/{student_id}/achievements", headers=student_headers)
    earned = [a["code"] for a in achievements.json()["items"] if a["earned_at"]]
    assert earned == ["first_step"]
