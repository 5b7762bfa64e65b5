"""Use cases of studying a deck with FSRS: what is due, a review, undoing one, statistics.

Only students study (the XP of a review is a student's); each has their own state of every
card of the decks they see. New cards are started at most `new_per_day` a deck per local day
of the student, counted from the review log.
"""
from __future__ import annotations

import uuid
from collections import Counter as Tally
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Row, bindparam, case, delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dictionary import roster
from services.dictionary.decks import DECK, VIEWER, visible_card, visible_deck, visible_row
from services.dictionary.domain import (
    CardPhase,
    Memory,
    Outcome,
    ReviewRating,
    day_start,
    local_day,
    retention,
    review,
    zone,
)
from services.dictionary.models import Card, CardState, Deck, ReviewLog
from services.dictionary.settings import DictionarySettings
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, Forbidden
from shared.events import CardReviewed, utcnow

REVIEWS = Counter("repitbot_dictionary_reviews_total", "Card reviews, by rating", ["rating"])
UNDONE = Counter("repitbot_dictionary_reviews_undone_total", "Reviews undone")
STATS_DAYS = 30


def ensure_student(user: Principal) -> None:
    if user.role != "student":
        raise Forbidden("Only students study decks")


@dataclass(frozen=True)
class DueItem:
    """A card and the student's state of it (None: new). Read as Core rows, which carry the same
    attribute names as `Card` and `CardState`: a page of 50 costs no ORM objects."""

    card: Card | Row[Any]
    state: CardState | Row[Any] | None


STATE_COLUMNS = (CardState.state, CardState.step, CardState.stability, CardState.difficulty, CardState.due,
                 CardState.last_review, CardState.reps, CardState.lapses)


@dataclass(frozen=True)
class Due:
    deck_id: uuid.UUID
    items: list[DueItem]
    due_count: int
    new_today: int
    new_left_today: int


# What is due, built once and bound per call: the deck with the caller's access and zone, today's
# new cards from the review log, the due cards by `ix_card_states_student_deck_due`, their count,
# the new cards by `ix_cards_deck_position` (without a state of the student's).
_STUDENT, _DECK, _LIMIT = bindparam("student_id"), bindparam("deck_id"), bindparam("limit")
DUE_DECK = DECK.add_columns(select(roster.people.users.timezone).where(roster.people.users.id == VIEWER)
                            .scalar_subquery().label("timezone"))
NEW_TODAY = select(func.count()).select_from(ReviewLog).where(
    ReviewLog.student_id == _STUDENT, ReviewLog.deck_id == _DECK, ReviewLog.reviewed_at >= bindparam("since"),
    ReviewLog.was_new)
_WAITING = (CardState.student_id == _STUDENT, CardState.deck_id == _DECK, CardState.due <= bindparam("now"))
DUE = (select(Card.__table__, *STATE_COLUMNS).join(CardState, CardState.card_id == Card.id).where(*_WAITING)
       .order_by(CardState.due).limit(_LIMIT))
DUE_COUNT = select(func.count()).select_from(CardState).where(*_WAITING)
NEW_CARDS = (select(Card.__table__).where(Card.deck_id == _DECK, ~exists().where(
    CardState.student_id == _STUDENT, CardState.card_id == Card.id)).order_by(Card.position, Card.id).limit(_LIMIT))


async def due_cards(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, *, limit: int,
                    now: datetime | None = None) -> Due:
    """Cards due now, the most overdue first, then as many new ones as today's limit leaves."""
    ensure_student(user)
    now = now or utcnow()
    async with uow.read_only():
        session = uow.session
        found = await visible_row(session, user, DUE_DECK, {"deck_id": deck_id})
        deck, tz = found[0], zone(found.timezone)
        params = {"student_id": user.id, "deck_id": deck.id, "now": now, "limit": limit}
        new_today = await session.scalar(NEW_TODAY, {**params, "since": day_start(local_day(now, tz), tz)}) or 0
        rows = (await session.execute(DUE, params)).all()
        due_count = len(rows) if len(rows) < limit else await session.scalar(DUE_COUNT, params)
        new_left = max(0, deck.new_per_day - new_today)
        fresh_count = min(new_left, limit - len(rows))
        fresh = (await session.execute(NEW_CARDS, {**params, "limit": fresh_count})).all() if fresh_count > 0 else []
    items = [DueItem(row, row) for row in rows] + [DueItem(row, None) for row in fresh]
    return Due(deck.id, items, int(due_count or 0), new_today, new_left)


def memory_of(state: CardState | Row[Any] | None) -> Memory | None:
    if state is None:
        return None
    return Memory(state=state.state, step=state.step, stability=state.stability, difficulty=state.difficulty,
                  due=state.due, last_review=state.last_review)


# --- reviewing -----------------------------------------------------------------------------------
async def review_card(uow: UnitOfWork, user: Principal, card_id: uuid.UUID, rating: ReviewRating, *,
                      settings: DictionarySettings, now: datetime | None = None) -> Outcome:
    """Apply the rating to the student's state of the card, log it and tell the student service."""
    ensure_student(user)
    now = now or utcnow()
    try:
        async with uow:
            card, deck = await visible_card(uow.session, user, card_id)
            state = await uow.session.get(CardState, (user.id, card.id), with_for_update=True)
            outcome = review(memory_of(state), rating, now, desired_retention=deck.desired_retention,
                             fuzzing=settings.dictionary_fsrs_fuzzing,
                             learned_days=settings.dictionary_learned_stability_days)
            _store(uow.session, user.id, card, state, outcome)
            uow.emit(CardReviewed(card_id=card.id, deck_id=deck.id, student_id=user.id, rating=rating.value,
                                  reviewed_at=now, learned=outcome.learned))
            await uow.commit()
    except IntegrityError as exc:   # the first review of a new card, twice at once
        raise Conflict("This card was reviewed at the same moment by another request; fetch it again") from exc
    REVIEWS.labels(rating.value).inc()
    return outcome


def _store(session: AsyncSession, student_id: uuid.UUID, card: Card, state: CardState | None,
           outcome: Outcome) -> None:
    after, before = outcome.after, outcome.before
    if state is None:
        state = CardState(student_id=student_id, card_id=card.id, deck_id=card.deck_id, reps=0, lapses=0)
        session.add(state)
    _set_memory(state, after)
    state.reps += 1
    if outcome.rating == ReviewRating.AGAIN and before is not None and before.state == 2:
        state.lapses += 1
    session.add(ReviewLog(
        id=uuid.uuid4(), student_id=student_id, card_id=card.id, deck_id=card.deck_id,
        rating=int(outcome.rating.fsrs), reviewed_at=outcome.reviewed_at, was_new=before is None,
        prev_state=before and before.state, prev_step=before and before.step,
        prev_stability=before and before.stability, prev_difficulty=before and before.difficulty,
        prev_due=before and before.due, prev_last_review=before and before.last_review,
        state=after.state, stability=after.stability, difficulty=after.difficulty, due=after.due))


def _set_memory(state: CardState, memory: Memory) -> None:
    state.state, state.step, state.stability = memory.state, memory.step, memory.stability
    state.difficulty, state.due, state.last_review = memory.difficulty, memory.due, memory.last_review


@dataclass(frozen=True)
class Undone:
    card_id: uuid.UUID
    rating: ReviewRating
    state: CardState | None


async def undo_last_review(uow: UnitOfWork, user: Principal, card_id: uuid.UUID) -> Undone:
    """Put the student's state of the card back to what it was before their last review of it,
    and drop that review from the log (the XP it gave stays: the review happened)."""
    ensure_student(user)
    async with uow:
        card, _ = await visible_card(uow.session, user, card_id)
        state = await uow.session.get(CardState, (user.id, card.id), with_for_update=True)
        last = await uow.session.scalar(select(ReviewLog).where(
            ReviewLog.student_id == user.id, ReviewLog.card_id == card.id)
            .order_by(ReviewLog.reviewed_at.desc(), ReviewLog.id.desc()).limit(1))
        if last is None or state is None:
            raise Conflict("There is no review of this card to undo")
        if last.was_new or last.prev_state is None or last.prev_due is None:
            await uow.session.delete(state)
            state = None
        else:
            _set_memory(state, Memory(last.prev_state, last.prev_step, last.prev_stability, last.prev_difficulty,
                                      last.prev_due, last.prev_last_review))
            state.reps = max(0, state.reps - 1)
            if last.rating == 1 and last.prev_state == 2:
                state.lapses = max(0, state.lapses - 1)
        await uow.session.execute(delete(ReviewLog).where(ReviewLog.id == last.id))
        await uow.commit()
    UNDONE.inc()
    return Undone(card.id, ReviewRating.of(last.rating), state)


# --- statistics ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Stats:
    deck_id: uuid.UUID
    phases: dict[CardPhase, int]
    reviews_per_day: list[tuple[date, int]]
    retention: float | None


async def deck_stats(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, *, learned_days: float,
                     now: datetime | None = None) -> Stats:
    ensure_student(user)
    now = now or utcnow()
    async with uow.read_only():
        session = uow.session
        deck = await visible_deck(session, user, deck_id)
        phases = await _phases(session, user.id, deck, learned_days)
        tz = await roster.timezone_of(session, user.id)
        since = day_start(local_day(now, tz) - timedelta(days=STATS_DAYS - 1), tz)
        logs = (await session.execute(select(ReviewLog.reviewed_at, ReviewLog.rating, ReviewLog.prev_state).where(
            ReviewLog.student_id == user.id, ReviewLog.deck_id == deck.id, ReviewLog.reviewed_at >= since))).all()
    per_day = Tally(local_day(at, tz) for at, _, _ in logs)
    in_review = [rating for _, rating, prev_state in logs if prev_state == 2]
    return Stats(deck.id, phases, sorted(per_day.items()), retention(in_review))


async def _phases(session: AsyncSession, student_id: uuid.UUID, deck: Deck, learned_days: float) -> dict[CardPhase, int]:
    total = await session.scalar(select(func.count()).select_from(Card).where(Card.deck_id == deck.id)) or 0
    phase = case((CardState.state != 2, CardPhase.LEARNING.value),
                 (CardState.stability >= learned_days, CardPhase.LEARNED.value),
                 else_=CardPhase.REVIEW.value).label("phase")
    rows = await session.execute(select(phase, func.count()).where(
        CardState.student_id == student_id, CardState.deck_id == deck.id).group_by("phase"))
    phases = dict.fromkeys(CardPhase, 0)
    for name, count in rows:
        phases[CardPhase(name)] = count
    phases[CardPhase.NEW] = max(0, total - sum(phases.values()))
    return phases
