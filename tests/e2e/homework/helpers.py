"""What the homework e2e tests share: accounts linked as a tutor's family, sample files, and
the steps of the main flow."""
from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.conftest import Account

PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
       + bytes(range(256)) * 40)
ELF = b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 4000   # an executable, whatever its name says


def due_in(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).replace(microsecond=0).isoformat()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def link_parent(client: httpx.AsyncClient, student: Account, parent: Account) -> None:
    invite = await client.post("/api/v1/students/me/parent-invites", headers=student.headers)
    assert invite.status_code == 201, invite.text
    accepted = await client.post(f"/api/v1/invites/{invite.json()['code']}/accept", headers=parent.headers)
    assert accepted.status_code in (200, 201), accepted.text


async def assign(client: httpx.AsyncClient, teacher: Account, student_id: str, **extra) -> httpx.Response:
    return await client.post("/api/v1/homework", headers=teacher.headers, json={
        "student_id": student_id, "title": "Fractions", "description": "Exercises **1-10**",
        "due_at": due_in(48), **extra})


async def submit(client: httpx.AsyncClient, student: Account, homework_id: str,
                 files: list[tuple[str, bytes | io.IOBase]], text: str | None = None) -> httpx.Response:
    return await client.post(f"/api/v1/homework/{homework_id}/submissions", headers=student.headers,
                             data={"text": text} if text is not None else None,
                             files=[("files", (name, body)) for name, body in files])


async def main_flow(client: httpx.AsyncClient, teacher: Account, student: Account) -> dict:
    """Assign, hand in two files and text, download one (checksum), grade 100/100; the homework."""
    assigned = await assign(client, teacher, student.id)
    assert assigned.status_code == 201, assigned.text
    homework = assigned.json()
    assert (homework["status"], homework["max_score"]) == ("assigned", 100)

    handed_in = await submit(client, student, homework["id"], [("Решение.pdf", PDF), ("photo.png", PNG)],
                             text="My answers")
    assert handed_in.status_code == 201, handed_in.text
    detail = handed_in.json()
    assert (detail["status"], detail["on_time"]) == ("submitted", True)
    files = detail["submissions"][-1]["files"]
    assert [(f["file_name"], f["content_type"], f["size"]) for f in files] == [
        ("Решение.pdf", "application/pdf", len(PDF)), ("photo.png", "image/png", len(PNG))]

    url = f"/api/v1/homework/{homework['id']}/files/{files[0]['id']}"
    download = await client.get(url, headers=teacher.headers)
    assert download.status_code == 200, download.text
    assert sha256(download.content) == sha256(PDF) == files[0]["sha256"]
    assert download.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''%D0%A0%D0%B5%D1%88%D0%B5%D0%BD%D0%B8%D0%B5.pdf" in download.headers["content-disposition"]

    graded = await client.post(f"/api/v1/homework/{homework['id']}/grade", headers=teacher.headers,
                               json={"score": 100, "feedback": "Perfect",
                                     "submission_id": detail["submissions"][-1]["id"]})
    assert graded.status_code == 200, graded.text
    assert (graded.json()["status"], graded.json()["score"]) == ("graded", 100)
    return graded.json()


def xp_by_rule(history: dict) -> dict[str, int]:
    totals: dict[str, int] = {}
    for entry in history["items"]:
        totals[entry["rule"]] = totals.get(entry["rule"], 0) + entry["amount"]
    return totals
