"""The dictionary service's rules, in plain functions and classes without I/O: what makes two
terms the same, who may see and study a deck, and the FSRS scheduling (through the `fsrs`
library) of one student's memory of one card."""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from zoneinfo import ZoneInfo

from fsrs import Card as FsrsCard
from fsrs import Rating as FsrsRating
from fsrs import Scheduler
from fsrs import State as FsrsState

from shared.errors import Forbidden, NotFound
from shared.people import valid_zone

DEFAULT_ZONE = "Europe/Moscow"
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-zA-Z0-9]{2,8})?$")   # an ISO 639 code, maybe with a region: en, pt-br


class ReviewRating(StrEnum):
    AGAIN = "again"
    HARD = "hard"
    GOOD = "good"
    EASY = "easy"

    @property
    def fsrs(self) -> FsrsRating:
        return FsrsRating[self.name.title()]

    @classmethod
    def of(cls, value: int) -> ReviewRating:
        return cls[FsrsRating(value).name.upper()]


class CardPhase(StrEnum):
    """Where a student is with a card, as Anki counts them (learned: stability past the threshold)."""

    NEW = "new"
    LEARNING = "learning"
    REVIEW = "review"
    LEARNED = "learned"


def fold_term(term: str) -> str:
    """The key two terms are compared on: case and runs of whitespace do not count."""
    return " ".join(term.split()).casefold()


def clean_text(value: str | None) -> str | None:
    """Surrounding whitespace goes; an empty value is no value."""
    value = (value or "").strip()
    return value or None


def clean_tags(tags: list[str] | None) -> list[str]:
    """Tags without blanks inside (Anki splits them on spaces), each once, in their first order."""
    seen: dict[str, None] = {}
    for tag in tags or ():
        tag = "_".join(tag.split())
        if tag:
            seen.setdefault(tag, None)
    return list(seen)


# --- who may do what ----------------------------------------------------------------------
@dataclass(frozen=True)
class Access:
    """What a caller is to a deck."""

    owner: bool
    shared: bool       # a student the deck is shared with (by name, or with all the teacher's students)

    @property
    def sees(self) -> bool:
        """Sees the deck and studies it with a review state of their own."""
        return self.owner or self.shared


def ensure_sees(access: Access) -> None:
    if not access.sees:
        raise NotFound("No such deck")


def ensure_owns(access: Access) -> None:
    ensure_sees(access)
    if not access.owner:
        raise Forbidden("Only the deck's owner may change it")


def ensure_may_share(role: str) -> None:
    if role != "teacher":
        raise Forbidden("Only teachers share decks, with their linked students")


# --- days ---------------------------------------------------------------------------------
def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(valid_zone(name) or DEFAULT_ZONE)


def local_day(at: datetime, tz: ZoneInfo) -> date:
    return at.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The instant a local day begins, in UTC."""
    return datetime.combine(day, time(0), tz).astimezone(UTC)


# --- scheduling -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Memory:
    """A student's FSRS state of a card, as the `card_states` columns hold it."""

    state: int
    step: int | None
    stability: float | None
    difficulty: float | None
    due: datetime
    last_review: datetime | None

    def to_fsrs(self) -> FsrsCard:
        return FsrsCard(state=FsrsState(self.state), step=self.step, stability=self.stability,
                        difficulty=self.difficulty, due=self.due, last_review=self.last_review)

    @classmethod
    def of(cls, card: FsrsCard) -> Memory:
        return cls(state=int(card.state), step=card.step, stability=card.stability, difficulty=card.difficulty,
                   due=card.due, last_review=card.last_review)

    def phase(self, learned_days: float) -> CardPhase:
        if self.state != FsrsState.Review:
            return CardPhase.LEARNING
        return CardPhase.LEARNED if is_learned(self.stability, learned_days) else CardPhase.REVIEW


@dataclass(frozen=True)
class Outcome:
    """What one review did: the memory before it (None: the card was new) and after it."""

    before: Memory | None
    after: Memory
    rating: ReviewRating
    reviewed_at: datetime
    learned: bool

    @property
    def interval(self) -> timedelta:
        return self.after.due - self.reviewed_at


@lru_cache(maxsize=64)
def scheduler(desired_retention: float, fuzzing: bool) -> Scheduler:
    """FSRS with its default parameters (until a student's own are optimised from the review log)."""
    return Scheduler(desired_retention=desired_retention, enable_fuzzing=fuzzing)


def review(before: Memory | None, rating: ReviewRating, at: datetime, *, desired_retention: float,
           fuzzing: bool, learned_days: float) -> Outcome:
    """Apply one rating at `at` to a card's memory, as FSRS schedules it."""
    card = before.to_fsrs() if before is not None else FsrsCard(due=at)
    after, _ = scheduler(desired_retention, fuzzing).review_card(card, rating.fsrs, at)
    memory = Memory.of(after)
    return Outcome(before, memory, rating, at, is_learned(memory.stability, learned_days)
                   and memory.state == FsrsState.Review)


def is_learned(stability: float | None, learned_days: float) -> bool:
    return stability is not None and stability >= learned_days


def anki_deck_id(deck_id: uuid.UUID) -> int:
    """A stable Anki deck id (a positive 63-bit integer) for a deck: re-importing updates it."""
    return deck_id.int >> 65


def retention(ratings: list[int]) -> float | None:
    """The share of reviews of cards in review that were remembered (not "again"), Anki's true retention."""
    if not ratings:
        return None
    return round(sum(1 for r in ratings if r != FsrsRating.Again) / len(ratings), 4)


