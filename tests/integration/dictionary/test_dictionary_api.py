"""The dictionary service in-process on the suite's real PostgreSQL, RabbitMQ and Redis: the test
plays the user service (its `user.*` events on RabbitMQ) and watches `dictionary.*` events on
the exchange. One service for the module; each test makes its own people and decks."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import select

from services.dictionary.app import create_app
from services.dictionary.models import Deck, KnownUser, ReviewLog, TeacherLink
from services.dictionary.settings import DictionarySettings
from shared.events import TeacherLinked, TeacherUnlinked, UserCreated, UserDeleted, make_event
from shared.rabbit import RabbitBus
from tests.support import Person, Tap, TestKeys, eventually, mesh_runtime, running, tapped

PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4"
       b"\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82")


@dataclass
class World:
    client: httpx.AsyncClient
    app: object
    keys: TestKeys
    user_service: RabbitBus

    def person(self, role: str) -> Person:
        user_id = uuid.uuid4()
        return Person(user_id, role, self.keys.headers(user_id, role))

    async def linked_pair(self) -> tuple[Person, Person]:
        teacher, student = self.person("teacher"), self.person("student")
        await self.user_service.publish([make_event(p, producer="user") for p in (
            UserCreated(user_id=teacher.id, role="teacher", full_name="Anna", email=f"{teacher.id}@example.org"),
            UserCreated(user_id=student.id, role="student", full_name="Ivan", email=f"{student.id}@example.org",
                        timezone="Asia/Tokyo"),
            TeacherLinked(teacher_id=teacher.id, student_id=student.id))])
        await self.wait_for(TeacherLink, teacher_id=teacher.id, student_id=student.id)
        await self.wait_for(KnownUser, id=student.id, timezone="Asia/Tokyo")
        return teacher, student

    async def wait_for(self, model: type, **where: object) -> object:
        async def found() -> object:
            async with self.app.state.session_factory() as session:  # type: ignore[attr-defined]
                return await session.scalar(select(model).filter_by(**where))
        return await eventually(found)

    async def deck(self, owner: Person, **extra: object) -> str:
        created = await self.client.post("/api/v1/decks", headers=owner.headers, json={
            "title": "Words", "source_lang": "en", "target_lang": "ru", **extra})
        assert created.status_code == 201, created.text
        return created.json()["id"]

    async def card(self, owner: Person, deck: str, term: str, translation: str = "перевод") -> dict:
        created = await self.client.post(f"/api/v1/decks/{deck}/cards", headers=owner.headers,
                                         json={"term": term, "translation": translation})
        assert created.status_code == 201, created.text
        return created.json()


@pytest.fixture(scope="module")
async def world(servers, tmp_path_factory) -> AsyncIterator[World]:
    keys = TestKeys()
    settings = DictionarySettings(mode="mesh", environment="test", var_dir=tmp_path_factory.mktemp("dictionary"),
                                  database_url=servers.create_database(f"dictionary_{uuid.uuid4().hex[:8]}"),
                                  redis_url=servers.redis_url, rabbitmq_url=servers.rabbitmq_url,
                                  dictionary_espeak_path="/nonexistent/espeak-ng",
                                  dictionary_fsrs_fuzzing=False)
    runtime = mesh_runtime(servers, keys)
    user_service = RabbitBus(servers.rabbitmq_url)
    app = create_app(settings, runtime)
    try:
        async with running(app) as client:
            yield World(client, app, keys, user_service)
    finally:
        await user_service.close()
        await runtime.close()


@pytest.fixture
async def tap(servers) -> AsyncIterator[Tap]:
    async with tapped(servers.rabbitmq_url, "dictionary.#") as tap:
        yield tap


async def test_a_review_commits_with_its_event_and_a_retry_with_the_same_key_changes_nothing(world, tap):
    teacher, student = await world.linked_pair()
    deck = await world.deck(teacher)
    card = await world.card(teacher, deck, "cat", "кошка")
    assert (await world.client.post(f"/api/v1/decks/{deck}/share", json={"all": True},
                                    headers=teacher.headers)).status_code == 200
    headers = {**student.headers, "Idempotency-Key": "k-1"}
    first = await world.client.post(f"/api/v1/cards/{card['id']}/reviews", json={"rating": "easy"}, headers=headers)
    again = await world.client.post(f"/api/v1/cards/{card['id']}/reviews", json={"rating": "easy"}, headers=headers)
    assert (first.status_code, again.status_code, again.headers.get("idempotent-replayed")) == (201, 201, "true")
    assert again.json() == first.json() and first.json()["state"] == "review"
    other = await world.client.post(f"/api/v1/cards/{card['id']}/reviews", json={"rating": "again"}, headers=headers)
    assert other.status_code == 409
    [event] = await tap.wait_for("dictionary.card_reviewed", card_id=card["id"])
    assert (event.payload["card_id"], event.payload["student_id"], event.payload["rating"],
            event.payload["learned"]) == (card["id"], str(student.id), "easy", False)
    stats = (await world.client.get(f"/api/v1/decks/{deck}/stats", headers=student.headers)).json()
    assert (stats["new"], stats["review"], sum(d["reviews"] for d in stats["reviews_per_day"])) == (0, 1, 1)
    tokyo_day = datetime.fromisoformat(first.json()["reviewed_at"]).astimezone(ZoneInfo("Asia/Tokyo")).date()
    assert stats["reviews_per_day"][0]["day"] == tokyo_day.isoformat()


async def test_undo_restores_the_state_before_each_review_in_turn(world):
    teacher, student = await world.linked_pair()
    deck = await world.deck(teacher)
    card = (await world.card(teacher, deck, "dog"))["id"]
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"student_ids": [str(student.id)]},
                            headers=teacher.headers)
    good = await world.client.post(f"/api/v1/cards/{card}/reviews", json={"rating": "good"}, headers=student.headers)
    await world.client.post(f"/api/v1/cards/{card}/reviews", json={"rating": "again"}, headers=student.headers)
    undone = await world.client.post(f"/api/v1/cards/{card}/reviews/undo", headers=student.headers)
    assert undone.status_code == 200, undone.text
    assert (undone.json()["undone_rating"], undone.json()["memory"]["due"]) == ("again", good.json()["due"])
    first = await world.client.post(f"/api/v1/cards/{card}/reviews/undo", headers=student.headers)
    assert first.json()["memory"]["phase"] == "new"
    nothing = await world.client.post(f"/api/v1/cards/{card}/reviews/undo", headers=student.headers)
    assert nothing.status_code == 409 and nothing.headers["content-type"] == "application/problem+json"


async def test_new_cards_are_limited_per_local_day_and_due_cards_come_first(world):
    teacher, student = await world.linked_pair()
    deck = await world.deck(teacher, new_per_day=2)
    cards = [(await world.card(teacher, deck, f"word {n}"))["id"] for n in range(4)]
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"all": True}, headers=teacher.headers)
    due = (await world.client.get(f"/api/v1/decks/{deck}/due", headers=student.headers)).json()
    assert [i["card"]["id"] for i in due["items"]] == cards[:2] and due["new_left_today"] == 2
    await world.client.post(f"/api/v1/cards/{cards[0]}/reviews", json={"rating": "good"}, headers=student.headers)
    due = (await world.client.get(f"/api/v1/decks/{deck}/due", headers=student.headers)).json()
    assert [i["card"]["id"] for i in due["items"]] == [cards[1]] and (due["new_today"], due["new_left_today"]) == (1, 1)


async def test_sharing_needs_a_link_and_unsharing_hides_the_deck_but_keeps_the_history(world):
    teacher, student = await world.linked_pair()
    stranger = world.person("student")
    deck = await world.deck(teacher)
    card = (await world.card(teacher, deck, "house"))["id"]
    refused = await world.client.post(f"/api/v1/decks/{deck}/share", json={"student_ids": [str(stranger.id)]},
                                      headers=teacher.headers)
    assert refused.status_code in (422, 503), refused.text   # no user service to ask here: 503 on a miss
    assert (await world.client.get(f"/api/v1/decks/{deck}", headers=student.headers)).status_code == 404
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"student_ids": [str(student.id)]},
                            headers=teacher.headers)
    assert (await world.client.post(f"/api/v1/cards/{card}/reviews", json={"rating": "good"},
                                    headers=student.headers)).status_code == 201
    edited = await world.client.patch(f"/api/v1/cards/{card}", json={"translation": "дом, здание"},
                                      headers=teacher.headers)
    assert (await world.client.get(f"/api/v1/cards/{card}", headers=student.headers)).json()["translation"] == \
        edited.json()["translation"]
    await world.client.post(f"/api/v1/decks/{deck}/unshare", json={"student_ids": [str(student.id)]},
                            headers=teacher.headers)
    listed = (await world.client.get("/api/v1/decks", headers=student.headers)).json()["items"]
    assert deck not in [d["id"] for d in listed]
    assert (await world.client.get(f"/api/v1/decks/{deck}/due", headers=student.headers)).status_code == 404
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"all": True}, headers=teacher.headers)
    stats = (await world.client.get(f"/api/v1/decks/{deck}/stats", headers=student.headers)).json()
    assert stats["learning"] == 1   # the review before the unsharing is still there
    await world.user_service.publish([make_event(TeacherUnlinked(teacher_id=teacher.id, student_id=student.id),
                                                 producer="user")])

    async def hidden() -> bool:
        return (await world.client.get(f"/api/v1/decks/{deck}", headers=student.headers)).status_code == 404
    await eventually(hidden)


async def test_duplicates_are_refused_naming_the_card_and_only_the_owner_edits(world):
    teacher, student = await world.linked_pair()
    deck = await world.deck(teacher)
    card = await world.card(teacher, deck, "Boarding  pass")
    duplicate = await world.client.post(f"/api/v1/decks/{deck}/cards", headers=teacher.headers,
                                        json={"term": " boarding pass ", "translation": "x"})
    assert duplicate.status_code == 409 and card["id"] in duplicate.json()["detail"]
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"all": True}, headers=teacher.headers)
    assert (await world.client.patch(f"/api/v1/cards/{card['id']}", json={"term": "x"},
                                     headers=student.headers)).status_code == 403
    assert (await world.client.post(f"/api/v1/decks/{deck}/cards", json={"term": "x", "translation": "y"},
                                    headers=student.headers)).status_code == 403
    assert (await world.client.get(f"/api/v1/decks/{deck}/due", headers=teacher.headers)).status_code == 403


async def test_audio_without_espeak_is_a_503_with_its_reason_and_uploads_are_sniffed(world):
    teacher, _ = await world.linked_pair()
    deck = await world.deck(teacher)
    card = (await world.card(teacher, deck, "apple"))["id"]
    missing = await world.client.get(f"/api/v1/cards/{card}/audio", headers=teacher.headers)
    assert missing.status_code == 503 and "espeak-ng is not installed" in missing.json()["detail"]
    not_audio = await world.client.put(f"/api/v1/cards/{card}/audio", headers=teacher.headers,
                                       files={"file": ("a.ogg", PNG, "audio/ogg")})
    assert not_audio.status_code == 415
    ogg = b"OggS\x00\x02" + b"\x00" * 22 + b"\x01\x13OpusHead" + b"\x01" * 40
    uploaded = await world.client.put(f"/api/v1/cards/{card}/audio", headers=teacher.headers,
                                      files={"file": ("a.ogg", ogg, "application/octet-stream")})
    assert uploaded.status_code == 200 and uploaded.json()["audio_uploaded"], uploaded.text
    served = await world.client.get(f"/api/v1/cards/{card}/audio", headers=teacher.headers)
    assert (served.status_code, served.headers["content-type"], served.content) == (200, "audio/ogg", ogg)
    assert served.headers["content-disposition"] == 'inline; filename="apple.ogg"'
    part = await world.client.get(f"/api/v1/cards/{card}/audio", headers={**teacher.headers, "Range": "bytes=0-3"})
    assert (part.status_code, part.content) == (206, b"OggS")
    same = await world.client.get(f"/api/v1/cards/{card}/audio",
                                  headers={**teacher.headers, "If-None-Match": served.headers["etag"]})
    assert same.status_code == 304
    image = await world.client.put(f"/api/v1/cards/{card}/image", headers=teacher.headers,
                                   files={"file": ("p.png", PNG, "image/png")})
    assert image.json()["image_url"] == f"/api/v1/cards/{card}/image"
    large = await world.client.put(f"/api/v1/cards/{card}/audio", headers=teacher.headers,
                                   files={"file": ("a.ogg", ogg + b"\x00" * (5 * 1024 * 1024), "audio/ogg")})
    assert large.status_code == 413


async def test_a_strict_import_with_a_bad_line_imports_nothing_and_a_tsv_round_trips(world):
    teacher, _ = await world.linked_pair()
    deck = await world.deck(teacher)
    tsv = "\ufeffterm\ttranslation\ttags\nsun\tсолнце\tsky nature\n\tнет\nmoon\tлуна\t\n".encode()
    strict = await world.client.post(f"/api/v1/decks/{deck}/import", params={"strict": "true"},
                                     headers=teacher.headers, files={"file": ("w.tsv", tsv, "text/plain")})
    assert strict.status_code == 422 and strict.json()["errors"] == [{"loc": ["body", "file", "3"], "msg": "no term"}]
    assert (await world.client.get(f"/api/v1/decks/{deck}", headers=teacher.headers)).json()["card_count"] == 0
    report = (await world.client.post(f"/api/v1/decks/{deck}/import", headers=teacher.headers,
                                      files={"file": ("w.tsv", tsv, "text/plain")})).json()
    assert (report["imported"], report["delimiter"], report["encoding"]) == (2, "\t", "utf-8")
    exported = await world.client.get(f"/api/v1/decks/{deck}/export", headers=teacher.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    again = (await world.client.post(f"/api/v1/decks/{deck}/import", headers=teacher.headers,
                                     files={"file": ("w.csv", exported.content, "text/csv")})).json()
    assert (again["imported"], [d["term"] for d in again["duplicates"]]) == (0, ["sun", "moon"])
    assert all(d["existing_card_id"] for d in again["duplicates"])
    cards = (await world.client.get(f"/api/v1/decks/{deck}/cards", headers=teacher.headers)).json()["items"]
    assert [(c["term"], c["tags"]) for c in cards] == [("sun", ["sky", "nature"]), ("moon", [])]


async def test_a_deleted_teachers_decks_go_with_every_students_reviews_of_them(world):
    teacher, student = await world.linked_pair()
    deck = await world.deck(teacher)
    card = (await world.card(teacher, deck, "tree"))["id"]
    await world.client.post(f"/api/v1/decks/{deck}/share", json={"all": True}, headers=teacher.headers)
    assert (await world.client.post(f"/api/v1/cards/{card}/reviews", json={"rating": "good"},
                                    headers=student.headers)).status_code == 201
    await world.user_service.publish([make_event(UserDeleted(user_id=teacher.id), producer="user")])

    async def erased() -> bool:
        async with world.app.state.session_factory() as session:
            return (await session.get(Deck, uuid.UUID(deck)) is None
                    and await session.scalar(select(ReviewLog.id).where(ReviewLog.student_id == student.id)) is None)
    await eventually(erased)
