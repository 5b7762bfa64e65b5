"""A card's pronunciation and picture: uploaded by the deck's owner (the bytes decide the type),
or, for the pronunciation, generated from the term in the deck's language, once per (voice,
text), kept in storage and found again by its hash. A changed term has another hash, so its
pronunciation is generated anew; a changed deck language, the same."""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from prometheus_client import Counter
from sqlalchemy import select

from services.dictionary.decks import visible_card
from services.dictionary.models import AudioClip, Card
from services.dictionary.speech import OGG_OPUS, Synthesiser, clip_key, voice_of
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import utcnow
from shared.sql import insert_for
from shared.storage import LocalStorage, accepted_types

Kind = Literal["audio", "image"]
ALLOWED = {
    "audio": accepted_types("audio"),
    "image": accepted_types("image/png,image/jpeg,image/gif,image/webp"),   # what browsers and Anki show
}
UPLOADS = Counter("repitbot_dictionary_media_uploads_total", "Card media uploaded", ["kind"])
CLIPS = Counter("repitbot_dictionary_audio_served_total", "Pronunciations served, by origin", ["origin"])


@dataclass(frozen=True)
class Media:
    key: str
    content_type: str


async def ensure_editable(uow: UnitOfWork, user: Principal, card_id: uuid.UUID) -> None:
    """Refuse before the upload is read: only the deck's owner changes a card."""
    async with uow.read_only():
        await visible_card(uow.session, user, card_id, own=True)


async def attach(uow: UnitOfWork, storage: LocalStorage, user: Principal, card_id: uuid.UUID, kind: Kind,
                 chunks: AsyncIterator[bytes], *, max_bytes: int) -> Card:
    """Store the upload (413 past `max_bytes`, 415 for another type) and make it the card's."""
    stored = await storage.save(chunks, max_bytes=max_bytes, allowed_types=ALLOWED[kind])
    async with uow:
        card, _ = await visible_card(uow.session, user, card_id, own=True)
        setattr(card, f"{kind}_key", stored.key)
        setattr(card, f"{kind}_type", stored.content_type)
        card.updated_at = utcnow()
        await uow.commit()
    UPLOADS.labels(kind).inc()
    return card


async def detach(uow: UnitOfWork, user: Principal, card_id: uuid.UUID, kind: Kind) -> Card:
    """The card loses its upload (a pronunciation is then generated again)."""
    async with uow:
        card, _ = await visible_card(uow.session, user, card_id, own=True)
        if getattr(card, f"{kind}_key") is None:
            raise NotFound(f"This card has no uploaded {kind}")
        setattr(card, f"{kind}_key", None)
        setattr(card, f"{kind}_type", None)
        card.updated_at = utcnow()
        await uow.commit()
    return card


async def image_of(uow: UnitOfWork, user: Principal, card_id: uuid.UUID) -> tuple[Media, str]:
    """The card's picture and its term (to name the file)."""
    async with uow.read_only():
        card, _ = await visible_card(uow.session, user, card_id)
    if card.image_key is None or card.image_type is None:
        raise NotFound("This card has no picture")
    return Media(card.image_key, card.image_type), card.term


async def audio_of(uow: UnitOfWork, storage: LocalStorage, synthesiser: Synthesiser, user: Principal,
                   card_id: uuid.UUID) -> tuple[Media, str]:
    """The uploaded pronunciation, else the generated one (made now if it was not yet); and the
    card's term (to name the file)."""
    async with uow.read_only():
        card, deck = await visible_card(uow.session, user, card_id)
        if card.audio_key is not None and card.audio_type is not None:
            CLIPS.labels("uploaded").inc()
            return Media(card.audio_key, card.audio_type), card.term
        voice = voice_of(deck.source_lang)
        key = clip_key(voice, card.term)
        file_key = await uow.session.scalar(select(AudioClip.file_key).where(AudioClip.key == key))
    if file_key is not None and storage.exists(file_key):
        CLIPS.labels("cached").inc()
        return Media(file_key, OGG_OPUS), card.term
    return await _generate(uow, storage, synthesiser, voice, card.term, key), card.term


async def _generate(uow: UnitOfWork, storage: LocalStorage, synthesiser: Synthesiser, voice: str, text: str,
                    key: str) -> Media:
    ogg = await synthesiser.speak(voice, text)

    async def one_chunk() -> AsyncIterator[bytes]:
        yield ogg
    stored = await storage.save(one_chunk(), max_bytes=len(ogg))
    async with uow:
        # two requests may make the same clip at once (both files are fine), or the file was lost: the latest wins
        await uow.session.execute(insert_for(uow.session, AudioClip).values(
            key=key, voice=voice, file_key=stored.key, size=stored.size, created_at=utcnow())
            .on_conflict_do_update(index_elements=["key"], set_={"file_key": stored.key, "size": stored.size}))
        await uow.commit()
    CLIPS.labels("generated").inc()
    return Media(stored.key, OGG_OPUS)
