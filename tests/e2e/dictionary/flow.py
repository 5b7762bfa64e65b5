"""The flow both end-to-end dictionary tests run through the gateway: a teacher imports a word
list from a Russian Excel (Windows-1251, a header, duplicates and bad lines), shares the deck, a
student studies it, FSRS's own answers are checked against the library, XP and `first_words`
show in the student service, and the pronunciation and the Anki package are real files."""
from __future__ import annotations

import asyncio
import io
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from fsrs import Card, Rating, Scheduler

from tests.e2e.conftest import Account, link, register_and_login

ROWS = 500
DUPLICATE_LINES = {101: "Word 7", 202: "  word   8 ", 303: "WORD 9"}   # line -> a term an earlier line has
BAD_LINES = {150: ";только перевод;", 250: "word x;перевод;пример;транскрипция;теги;лишнее"}
RATINGS = ["again", "hard", "good", "easy", "good"]
ZONES = ["Pacific/Honolulu", "America/Anchorage", "America/Los_Angeles", "America/Denver", "America/Chicago",
         "America/New_York", "America/Sao_Paulo", "Atlantic/South_Georgia", "Atlantic/Azores", "Europe/London",
         "Europe/Berlin", "Europe/Moscow", "Asia/Dubai", "Asia/Karachi", "Asia/Dhaka", "Asia/Bangkok",
         "Asia/Shanghai", "Asia/Tokyo", "Australia/Brisbane", "Pacific/Noumea", "Pacific/Auckland"]


def midday_zone() -> str:
    """A zone where it is about noon now, so that the student's day does not turn during the test."""
    now = datetime.now(UTC)
    return min(ZONES, key=lambda name: abs(now.astimezone(ZoneInfo(name)).hour + 0.5 - 12))


def word_list() -> bytes:
    """`ROWS` data lines after a header, as Excel saves a Russian sheet: Windows-1251, semicolons."""
    lines = ["Слово;Перевод;Пример;Транскрипция"]
    for n in range(1, ROWS + 1):
        line = n + 1
        if line in DUPLICATE_LINES:
            lines.append(f"{DUPLICATE_LINES[line]};дубликат;;")
        elif line in BAD_LINES:
            lines.append(BAD_LINES[line])
        else:
            lines.append(f"word {n};слово {n};This is word {n}.;[уёрд]")
    return "\r\n".join(lines).encode("cp1251")


Retry = Callable[[Callable[[], Awaitable[object]]], Awaitable[object]]


async def run(client: httpx.AsyncClient, *, settle: Callable[[], Awaitable[None]], until: Retry) -> None:
    teacher = await register_and_login(client, "teacher", full_name="Anna Teacher")
    student = await register_and_login(client, "student", full_name="Ivan Student", timezone=midday_zone())
    await link(client, teacher, student)
    await settle()
    deck = await _teacher_builds_a_deck(client, teacher)
    shared = await client.post(f"/api/v1/decks/{deck}/share", json={"student_ids": [student.id]},
                               headers=teacher.headers)
    assert shared.status_code == 200, shared.text
    assert shared.json() == {"all": False, "student_ids": [student.id]}
    history = await _student_studies(client, student, deck)
    _check_against_fsrs(history)
    await settle()
    await until(lambda: _xp_capped_and_first_words(client, student))
    spoken = await _pronunciation_is_opus(client, student, history[0][0])
    renamed = await client.patch(f"/api/v1/cards/{history[0][0]}", json={"term": "a brand new term"},
                                 headers=teacher.headers)
    assert renamed.status_code == 200, renamed.text
    assert await _pronunciation_is_opus(client, student, history[0][0]) != spoken   # made anew for the new term
    package = await _anki_package_holds_the_notes(client, teacher, deck)
    await _a_student_imports_the_package_into_a_deck_of_their_own(client, student, package)


async def _teacher_builds_a_deck(client: httpx.AsyncClient, teacher: Account) -> str:
    created = await client.post("/api/v1/decks", headers=teacher.headers, json={
        "title": "Английский: 500 слов", "source_lang": "en", "target_lang": "ru", "new_per_day": 60})
    assert created.status_code == 201, created.text
    deck = created.json()["id"]
    imported = await client.post(f"/api/v1/decks/{deck}/import", headers=teacher.headers,
                                 files={"file": ("слова.csv", word_list(), "text/csv")})
    assert imported.status_code == 200, imported.text
    report = imported.json()
    assert (report["imported"], report["encoding"], report["delimiter"], report["header"]) == (
        ROWS - len(DUPLICATE_LINES) - len(BAD_LINES), "cp1251", ";", True)
    assert sorted(d["line"] for d in report["duplicates"]) == sorted(DUPLICATE_LINES)
    assert all(d["existing_card_id"] is None for d in report["duplicates"])   # earlier lines of the file
    assert [(b["line"], b["reason"]) for b in report["bad_lines"]] == [
        (150, "no term"), (250, "6 columns, at most 4 expected")]
    again = await client.post(f"/api/v1/decks/{deck}/cards", headers=teacher.headers,
                              json={"term": " WORD  1", "translation": "ещё раз"})
    assert again.status_code == 409, again.text
    first = (await client.get(f"/api/v1/decks/{deck}/cards", params={"limit": 1}, headers=teacher.headers)).json()
    assert first["items"][0]["term"] == "word 1" and first["items"][0]["id"] in again.json()["detail"]
    return deck


async def _student_studies(client: httpx.AsyncClient, student: Account, deck: str) -> list[tuple[str, str, str, str]]:
    """25 due (new) cards rated in turn, one retried with its Idempotency-Key and one rated twice,
    then 30 more: (card, rating, reviewed_at, due) of every review, in order."""
    due = await client.get(f"/api/v1/decks/{deck}/due", params={"limit": 25}, headers=student.headers)
    assert due.status_code == 200, due.text
    assert (len(due.json()["items"]), due.json()["new_left_today"]) == (25, 60)
    history = []
    for n, item in enumerate(due.json()["items"]):
        history.append(await _review(client, student, item["card"]["id"], RATINGS[n % len(RATINGS)],
                                     key=f"review-{n}"))
    retried = await client.post(f"/api/v1/cards/{history[0][0]}/reviews", json={"rating": RATINGS[0]},
                                headers={**student.headers, "Idempotency-Key": "review-0"})
    assert retried.status_code == 201 and retried.headers["idempotent-replayed"] == "true", retried.text
    assert retried.json()["due"] == history[0][3]
    history.append(await _review(client, student, history[2][0], "good", key="second-look"))
    undone = await client.post(f"/api/v1/cards/{history[1][0]}/reviews/undo", headers=student.headers)
    assert undone.status_code == 200 and undone.json()["memory"]["phase"] == "new", undone.text
    history = [h for h in history if h[0] != history[1][0]]
    history.append(await _review(client, student, due.json()["items"][1]["card"]["id"], "hard", key="redo"))
    more = await client.get(f"/api/v1/decks/{deck}/due", params={"limit": 30}, headers=student.headers)
    assert (more.json()["new_today"], len(more.json()["items"])) == (25, 30)
    for item in more.json()["items"]:   # new cards, and learning ones if their minute has passed
        await _review(client, student, item["card"]["id"], "good", key=None)
    started = 25 + sum(item["memory"]["phase"] == "new" for item in more.json()["items"])
    stats = (await client.get(f"/api/v1/decks/{deck}/stats", headers=student.headers)).json()
    assert stats["new"] + stats["learning"] + stats["review"] + stats["learned"] == 495
    assert stats["new"] == 495 - started and sum(d["reviews"] for d in stats["reviews_per_day"]) == 56
    return history


async def _review(client: httpx.AsyncClient, student: Account, card: str, rating: str, *,
                  key: str | None) -> tuple[str, str, str, str]:
    headers = {**student.headers, **({"Idempotency-Key": key} if key else {})}
    answer = await client.post(f"/api/v1/cards/{card}/reviews", json={"rating": rating}, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["interval_seconds"] > 0
    return card, rating, body["reviewed_at"], body["due"]


def _check_against_fsrs(history: list[tuple[str, str, str, str]]) -> None:
    """Every due time the service gave is the one the library computes for the same history."""
    scheduler = Scheduler(desired_retention=0.9, enable_fuzzing=False)
    cards: dict[str, Card] = {}
    for card_id, rating, reviewed_at, due in history:
        at = datetime.fromisoformat(reviewed_at)
        card = cards.get(card_id) or Card(due=at)
        cards[card_id], _ = scheduler.review_card(card, Rating[rating.title()], at)
        assert cards[card_id].due == datetime.fromisoformat(due), (card_id, rating)


async def _xp_capped_and_first_words(client: httpx.AsyncClient, student: Account) -> bool:
    ledger = await client.get(f"/api/v1/students/{student.id}/xp-history", params={"limit": 200},
                              headers=student.headers)
    reviews = [e for e in ledger.json().get("items", []) if e["source"] == "dictionary"]
    achievements = await client.get(f"/api/v1/students/{student.id}/achievements", headers=student.headers)
    earned = {a["code"] for a in achievements.json().get("items", []) if a["earned_at"]}
    if len(reviews) < 50 or "first_words" not in earned:
        return False
    assert sum(e["amount"] for e in reviews) == 100      # 57 reviews at 2 XP, capped at 100 a day
    return True


async def _pronunciation_is_opus(client: httpx.AsyncClient, student: Account, card: str) -> bytes:
    audio = await client.get(f"/api/v1/cards/{card}/audio", headers=student.headers)
    assert audio.status_code == 200, audio.text
    assert audio.headers["content-type"] == "audio/ogg" and audio.content[:4] == b"OggS"
    with tempfile.NamedTemporaryFile(suffix=".ogg") as file:
        file.write(audio.content)
        file.flush()
        info = await asyncio.to_thread(subprocess.run, ["opusinfo", file.name], capture_output=True, text=True)
    length = next(line for line in info.stdout.splitlines() if "Playback length" in line)
    minutes, seconds = length.split(":", 1)[1].strip().rstrip("s").split(":")
    assert float(minutes.rstrip("m")) * 60 + float(seconds) > 0.2, info.stdout
    cached = await client.get(f"/api/v1/cards/{card}/audio", headers=student.headers)
    assert cached.content == audio.content
    return audio.content


async def _anki_package_holds_the_notes(client: httpx.AsyncClient, teacher: Account, deck: str) -> bytes:
    exported = await client.get(f"/api/v1/decks/{deck}/export", params={"format": "apkg"}, headers=teacher.headers)
    assert exported.status_code == 200, exported.text
    with zipfile.ZipFile(io.BytesIO(exported.content)) as package, tempfile.TemporaryDirectory() as tmp:
        assert "collection.anki2" in package.namelist()
        collection = Path(package.extract("collection.anki2", tmp))
        with sqlite3.connect(collection) as db:
            fields = [row[0].split("\x1f") for row in db.execute("SELECT flds FROM notes")]
    assert len(fields) == 495
    assert ["word 2", "слово 2"] in [f[:2] for f in fields]
    csv_export = await client.get(f"/api/v1/decks/{deck}/export", headers=teacher.headers)
    assert csv_export.content.startswith(b"\xef\xbb\xbfterm,translation,example,transcription,tags\r\n")
    assert csv_export.content.count(b"\r\n") == 496
    return exported.content


async def _a_student_imports_the_package_into_a_deck_of_their_own(client: httpx.AsyncClient, student: Account,
                                                                 package: bytes) -> None:
    own = await client.post("/api/v1/decks", headers=student.headers,
                            json={"title": "Мои слова", "source_lang": "en", "target_lang": "ru"})
    imported = await client.post(f"/api/v1/decks/{own.json()['id']}/import", headers=student.headers,
                                 files={"file": ("deck.apkg", package, "application/octet-stream")})
    assert imported.status_code == 200, imported.text
    assert (imported.json()["imported"], imported.json()["encoding"], imported.json()["bad_lines"]) == (495, "apkg", [])
