"""The dictionary service's tables, on its own metadata: no other service reads them. After a
change, `repitbot makemigrations dictionary -m "what changed"` writes the migration.

Each student's FSRS state of a card is a row of `card_states`, in columns (not a JSON blob), so
that "what is due in this deck" is one indexed range query; a card the student has never seen
has no row (it is new). Every review is a row of `review_logs`, holding the state before the
review too, which is what undo restores.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from shared.events import utcnow
from shared.idempotency import IdempotencyKeyMixin
from shared.people import ParentLinkColumns, TeacherLinkColumns, UserColumns
from shared.sql import Base, JSONType, UtcDateTime, new_metadata


class DictionaryBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Deck(DictionaryBase):
    __tablename__ = "decks"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    owner_role: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(200))
    source_lang: Mapped[str] = mapped_column(String(16))    # the language of the terms (and the voice)
    target_lang: Mapped[str] = mapped_column(String(16))    # the language of the translations
    description: Mapped[str | None] = mapped_column(Text)
    new_per_day: Mapped[int] = mapped_column(Integer, default=20)
    desired_retention: Mapped[float] = mapped_column(Float, default=0.9)
    shared_with_all: Mapped[bool] = mapped_column(Boolean, default=False)  # every linked student, later ones too
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class DeckShare(DictionaryBase):
    """A student a teacher chose to share a deck with."""

    __tablename__ = "deck_shares"

    deck_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("decks.id", ondelete="CASCADE"), primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    shared_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Card(DictionaryBase):
    __tablename__ = "cards"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    deck_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("decks.id", ondelete="CASCADE"))
    term: Mapped[str] = mapped_column(String(500))
    term_key: Mapped[str] = mapped_column(String(500))      # the term folded: duplicates are refused on it
    translation: Mapped[str] = mapped_column(String(1000))
    transcription: Mapped[str | None] = mapped_column(String(500))
    example: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    audio_key: Mapped[str | None] = mapped_column(String(64))          # an uploaded pronunciation
    audio_type: Mapped[str | None] = mapped_column(String(100))
    image_key: Mapped[str | None] = mapped_column(String(64))
    image_type: Mapped[str | None] = mapped_column(String(100))
    position: Mapped[int] = mapped_column(Integer, default=0)          # new cards are shown in this order
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    __table_args__ = (
        UniqueConstraint("deck_id", "term_key", name="uq_cards_deck_term"),
        Index("ix_cards_deck_position", "deck_id", "position", "id"),
    )


class CardState(DictionaryBase):
    """One student's FSRS state of one card (`fsrs.Card` in columns)."""

    __tablename__ = "card_states"

    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    card_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cards.id", ondelete="CASCADE"), primary_key=True)
    deck_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    state: Mapped[int] = mapped_column(SmallInteger)        # fsrs.State: 1 learning, 2 review, 3 relearning
    step: Mapped[int | None] = mapped_column(SmallInteger)
    stability: Mapped[float | None] = mapped_column(Float)
    difficulty: Mapped[float | None] = mapped_column(Float)
    due: Mapped[datetime] = mapped_column(UtcDateTime)
    last_review: Mapped[datetime | None] = mapped_column(UtcDateTime)
    reps: Mapped[int] = mapped_column(Integer, default=0)
    lapses: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (Index("ix_card_states_student_deck_due", "student_id", "deck_id", "due"),)


class ReviewLog(DictionaryBase):
    """One review, with the state before it (`prev_*`; no state: the card was new) and after it."""

    __tablename__ = "review_logs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    card_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("cards.id", ondelete="CASCADE"), index=True)
    deck_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    rating: Mapped[int] = mapped_column(SmallInteger)       # fsrs.Rating: 1 again .. 4 easy
    reviewed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    was_new: Mapped[bool] = mapped_column(Boolean)
    prev_state: Mapped[int | None] = mapped_column(SmallInteger)
    prev_step: Mapped[int | None] = mapped_column(SmallInteger)
    prev_stability: Mapped[float | None] = mapped_column(Float)
    prev_difficulty: Mapped[float | None] = mapped_column(Float)
    prev_due: Mapped[datetime | None] = mapped_column(UtcDateTime)
    prev_last_review: Mapped[datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[int] = mapped_column(SmallInteger)
    stability: Mapped[float | None] = mapped_column(Float)
    difficulty: Mapped[float | None] = mapped_column(Float)
    due: Mapped[datetime] = mapped_column(UtcDateTime)

    __table_args__ = (Index("ix_review_logs_student_deck_at", "student_id", "deck_id", "reviewed_at"),)


class AudioClip(DictionaryBase):
    """A generated pronunciation, by the hash of (voice, text): made once, whatever card asks."""

    __tablename__ = "audio_clips"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    voice: Mapped[str] = mapped_column(String(16))
    file_key: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyKey(IdempotencyKeyMixin, DictionaryBase):
    """The answers to reviews and creations, by the caller's `Idempotency-Key` (`shared.idempotency`)."""


# --- the read model of people (shared.people) ----------------------------------------------
class KnownUser(UserColumns, DictionaryBase):
    pass


class TeacherLink(TeacherLinkColumns, DictionaryBase):
    pass


class ParentLink(ParentLinkColumns, DictionaryBase):
    pass
