"""Importing a word list into a deck and exporting a deck (CSV, Anki package).

An import is all or nothing: its cards are written in one transaction. Lines whose term the
deck already has (or an earlier line had) are skipped as duplicates, and lines that cannot be
a card are reported; with `strict`, any bad line refuses the whole file instead.
"""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
from prometheus_client import Counter
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.dictionary import anki, csvfile
from services.dictionary.decks import next_position, visible_deck
from services.dictionary.domain import clean_tags, fold_term
from services.dictionary.models import Card, Deck
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, Unprocessable
from shared.events import utcnow
from shared.storage import LocalStorage

IMPORTS = Counter("repitbot_dictionary_imports_total", "Word list imports, by outcome", ["outcome"])
IMPORTED_CARDS = Counter("repitbot_dictionary_imported_cards_total", "Cards created by imports")
EXPORTS = Counter("repitbot_dictionary_exports_total", "Deck exports, by format", ["format"])
EXTENSIONS = {"audio/ogg": "ogg", "audio/mpeg": "mp3", "audio/x-wav": "wav", "audio/x-flac": "flac",
              "audio/mp4": "m4a", "audio/aac": "aac", "audio/amr": "amr", "audio/webm": "webm", "image/png": "png",
              "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}


@dataclass(frozen=True)
class Duplicate:
    line: int
    term: str
    existing_card_id: uuid.UUID | None


@dataclass(frozen=True)
class Report:
    imported: int
    duplicates: list[Duplicate]
    parsed: csvfile.Parsed


async def ensure_importable(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> None:
    """Refuse before the upload is read: only the owner imports."""
    async with uow.read_only():
        await visible_deck(uow.session, user, deck_id, own=True)


async def read_all(chunks: AsyncIterator[bytes]) -> bytes:
    return b"".join([chunk async for chunk in chunks])


async def import_words(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, data: bytes, *,
                       max_rows: int, strict: bool = False) -> Report:
    read = anki.read_package if anki.is_package(data) else csvfile.parse
    parsed = await anyio.to_thread.run_sync(lambda: read(data, max_rows=max_rows))
    if strict and parsed.bad:
        IMPORTS.labels("refused").inc()
        raise Unprocessable(f"{len(parsed.bad)} lines cannot be imported; nothing was",
                            errors=[{"loc": ["body", "file", str(b.line)], "msg": b.reason} for b in parsed.bad])
    try:
        async with uow:
            deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
            existing = dict((await uow.session.execute(
                select(Card.term_key, Card.id).where(Card.deck_id == deck.id))).all())
            rows, duplicates = _new_rows(deck, parsed.rows, existing, await next_position(uow.session, deck.id))
            uow.insert_rows(Card.__table__, rows)
            await uow.commit()
    except IntegrityError as exc:   # another import or edit of the same deck won the race
        IMPORTS.labels("conflict").inc()
        raise Conflict("The deck changed while importing; nothing was imported, retry") from exc
    IMPORTS.labels("imported").inc()
    IMPORTED_CARDS.inc(len(rows))
    return Report(len(rows), duplicates, parsed)


def _new_rows(deck: Deck, rows: list[csvfile.Row], existing: dict[str, uuid.UUID],
              position: int) -> tuple[list[dict], list[Duplicate]]:
    now, seen = utcnow(), dict(existing)
    new: list[dict] = []
    duplicates: list[Duplicate] = []
    for row in rows:
        key = fold_term(row.term)
        if key in seen:
            duplicates.append(Duplicate(row.line, row.term, existing.get(key)))
            continue
        card_id = uuid.uuid4()
        seen[key] = card_id
        new.append({"id": card_id, "deck_id": deck.id, "term": " ".join(row.term.split()), "term_key": key,
                    "translation": row.translation, "transcription": row.transcription, "example": row.example,
                    "tags": clean_tags(row.tags), "audio_key": None, "audio_type": None, "image_key": None,
                    "image_type": None, "position": position + len(new), "created_at": now, "updated_at": now})
    return new, duplicates


async def _deck_and_cards(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> tuple[Deck, list[Card]]:
    async with uow.read_only():
        deck = await visible_deck(uow.session, user, deck_id, own=True)
        cards = list(await uow.session.scalars(select(Card).where(Card.deck_id == deck.id)
                                               .order_by(Card.position, Card.id)))
    return deck, cards


async def export_csv(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> tuple[Deck, bytes]:
    deck, cards = await _deck_and_cards(uow, user, deck_id)
    EXPORTS.labels("csv").inc()
    return deck, csvfile.write((c.term, c.translation, c.example, c.transcription, list(c.tags or [])) for c in cards)


async def export_apkg(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, storage: LocalStorage) -> tuple[Deck, bytes]:
    """The deck as an Anki package, with the uploaded pronunciations and pictures as media."""
    deck, cards = await _deck_and_cards(uow, user, deck_id)
    notes = [anki.NoteData(card.id, card.term, card.translation, card.transcription, card.example,
                           list(card.tags or []), _media(storage, card.audio_key, card.audio_type),
                           _media(storage, card.image_key, card.image_type)) for card in cards]
    EXPORTS.labels("apkg").inc()
    return deck, await anki.build_in_thread(deck.id, deck.title, deck.description, notes)


def _media(storage: LocalStorage, key: str | None, content_type: str | None) -> tuple[Path, str] | None:
    if key is None or not storage.exists(key):
        return None
    return storage.local_path(key), EXTENSIONS.get(content_type or "", "bin")
