"""Request and response bodies of the dictionary API."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import Row

from services.dictionary.csvfile import LIMITS
from services.dictionary.domain import LANGUAGE, CardPhase, ReviewRating
from services.dictionary.models import Card, Deck

Language = Annotated[str, StringConstraints(pattern=LANGUAGE.pattern, max_length=16)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=r"\S")]
NotBlank = r"\S"


def _a_json_number(value: object) -> object:
    # lax pydantic reads "5" and true as numbers; the document says number, and so do we
    if isinstance(value, (str, bool)):
        raise ValueError("must be a JSON number")
    return value


Number = Annotated[int, BeforeValidator(_a_json_number)]
Fraction = Annotated[float, BeforeValidator(_a_json_number)]


class DeckCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "title": "Travel English", "source_lang": "en", "target_lang": "ru",
        "description": "Words for the airport and the hotel", "new_per_day": 20, "desired_retention": 0.9}]})

    title: str = Field(min_length=1, max_length=200, pattern=NotBlank)
    source_lang: Language = Field(description="The language of the terms (and of their pronunciation), ISO 639")
    target_lang: Language = Field(description="The language of the translations, ISO 639")
    description: str | None = Field(None, max_length=5000)
    new_per_day: Number = Field(20, ge=0, le=9999, description="New cards a student starts per local day")
    desired_retention: Fraction = Field(0.9, ge=0.7, le=0.99,
                                     description="The chance of remembering a card when it falls due (FSRS)")


class DeckUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "examples": [{"new_per_day": 30}]})

    # None is only the "not sent" default: null is refused
    title: str = Field(None, min_length=1, max_length=200, pattern=NotBlank)  # type: ignore[assignment]
    source_lang: Language = None  # type: ignore[assignment]
    target_lang: Language = None  # type: ignore[assignment]
    description: str | None = Field(None, max_length=5000)
    new_per_day: Number = Field(None, ge=0, le=9999)  # type: ignore[assignment]
    desired_retention: Fraction = Field(None, ge=0.7, le=0.99)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something_changes(self) -> DeckUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in self.model_fields_set - {"description"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class DeckPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    owner_id: uuid.UUID
    title: str
    source_lang: str
    target_lang: str
    description: str | None
    new_per_day: int
    desired_retention: float
    shared_with_all: bool
    card_count: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, deck: Deck, card_count: int) -> DeckPublic:
        return cls.model_validate({**{k: getattr(deck, k) for k in cls.model_fields if k != "card_count"},
                                   "card_count": card_count})


class ShareRequest(BaseModel):
    """Students by id, or `all` the teacher's linked students (those linked later too)."""

    model_config = ConfigDict(json_schema_extra={
        "anyOf": [{"required": ["student_ids"], "properties": {"student_ids": {"minItems": 1}}},
                  {"required": ["all"], "properties": {"all": {"const": True}}}],
        "examples": [{"student_ids": ["5f0c2b7e-8a41-4c36-9d1e-2b7a6c3f9e10"]}, {"all": True}]})

    student_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)
    all: bool = Field(False, strict=True)

    @model_validator(mode="after")
    def _someone(self) -> ShareRequest:
        if not self.student_ids and not self.all:
            raise ValueError("give student_ids or all: true")
        return self


class SharesPublic(BaseModel):
    all: bool
    student_ids: list[uuid.UUID]


class CardCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "term": "boarding pass", "translation": "посадочный талон", "transcription": "ˈbɔːdɪŋ pɑːs",
        "example": "Show your boarding pass at the gate.", "tags": ["airport"]}]})

    term: str = Field(min_length=1, max_length=LIMITS["term"], pattern=NotBlank)
    translation: str = Field(min_length=1, max_length=LIMITS["translation"], pattern=NotBlank)
    transcription: str | None = Field(None, max_length=LIMITS["transcription"])
    example: str | None = Field(None, max_length=LIMITS["example"])
    tags: list[Tag] = Field(default_factory=list, max_length=20)


class CardUpdate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1, "examples": [{"translation": "посадочный"}]})

    term: str = Field(None, min_length=1, max_length=LIMITS["term"], pattern=NotBlank)  # type: ignore[assignment]
    translation: str = Field(None, min_length=1, max_length=LIMITS["translation"],  # type: ignore[assignment]
                             pattern=NotBlank)
    transcription: str | None = Field(None, max_length=LIMITS["transcription"])
    example: str | None = Field(None, max_length=LIMITS["example"])
    tags: list[Tag] = Field(None, max_length=20)  # type: ignore[assignment]

    @model_validator(mode="after")
    def _something_changes(self) -> CardUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        for name in self.model_fields_set & {"term", "translation", "tags"}:
            if getattr(self, name) is None:
                raise ValueError(f"{name} may not be null")
        return self


class CardPublic(BaseModel):
    id: uuid.UUID
    deck_id: uuid.UUID
    term: str
    translation: str
    transcription: str | None
    example: str | None
    tags: list[str]
    audio_url: str = Field(description="The pronunciation: uploaded, or generated on the first request")
    audio_uploaded: bool
    image_url: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, card: Card | Row[Any]) -> CardPublic:
        """From a card, or a Core row of the `cards` table (the same names)."""
        return cls(id=card.id, deck_id=card.deck_id, term=card.term, translation=card.translation,
                   transcription=card.transcription, example=card.example, tags=list(card.tags or []),
                   audio_url=f"/api/v1/cards/{card.id}/audio", audio_uploaded=card.audio_key is not None,
                   image_url=f"/api/v1/cards/{card.id}/image" if card.image_key else None,
                   created_at=card.created_at, updated_at=card.updated_at)


class MemoryPublic(BaseModel):
    """The caller's FSRS state of a card."""

    phase: CardPhase
    due: datetime | None = Field(description="None for a new card")
    stability: float | None = Field(description="Days until the chance of recall falls to 90%")
    difficulty: float | None
    reps: int
    lapses: int


class DueCard(BaseModel):
    card: CardPublic
    memory: MemoryPublic


class DuePublic(BaseModel):
    deck_id: uuid.UUID
    items: list[DueCard] = Field(description="Cards in learning and review first (most overdue first), then new ones")
    due_count: int = Field(description="Cards due now, besides the new ones")
    new_today: int = Field(description="New cards started today (the student's local day)")
    new_left_today: int


class ReviewCreate(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"rating": "good"}]})

    rating: ReviewRating


class ReviewPublic(BaseModel):
    card_id: uuid.UUID
    rating: ReviewRating
    reviewed_at: datetime
    due: datetime = Field(description="When the card is due next")
    interval_seconds: int = Field(description="From this review to the next due time")
    state: str = Field(description="FSRS state after the review: learning, review or relearning")
    stability: float | None
    difficulty: float | None
    learned: bool


class UndonePublic(BaseModel):
    card_id: uuid.UUID
    undone_rating: ReviewRating
    memory: MemoryPublic


class DayCount(BaseModel):
    day: date
    reviews: int


class StatsPublic(BaseModel):
    deck_id: uuid.UUID
    new: int
    learning: int
    review: int
    learned: int
    reviews_per_day: list[DayCount] = Field(description="The last 30 local days with reviews")
    retention_30d: float | None = Field(description="Share of reviews of cards in review, not rated again")


class BadLinePublic(BaseModel):
    line: int
    reason: str


class DuplicatePublic(BaseModel):
    line: int
    term: str
    existing_card_id: uuid.UUID | None = Field(description="The card already in the deck; none: an earlier line")


class ImportReport(BaseModel):
    imported: int
    duplicates: list[DuplicatePublic]
    bad_lines: list[BadLinePublic]
    encoding: str
    delimiter: str
    header: bool
