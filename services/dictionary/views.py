"""The public shapes of what the study use cases return."""
from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from fsrs import State
from sqlalchemy import Row

from services.dictionary.domain import CardPhase, Outcome
from services.dictionary.models import CardState
from services.dictionary.schemas import CardPublic, DayCount, DueCard, DuePublic, MemoryPublic, ReviewPublic
from services.dictionary.study import Due, memory_of


def memory_public(state: CardState | Row[Any] | None, learned_days: float) -> MemoryPublic:
    memory = memory_of(state)
    if state is None or memory is None:
        return MemoryPublic(phase=CardPhase.NEW, due=None, stability=None, difficulty=None, reps=0, lapses=0)
    return MemoryPublic(phase=memory.phase(learned_days), due=state.due, stability=state.stability,
                        difficulty=state.difficulty, reps=state.reps, lapses=state.lapses)


def due_public(due: Due, learned_days: float) -> DuePublic:
    items = [DueCard(card=CardPublic.of(item.card), memory=memory_public(item.state, learned_days))
             for item in due.items]
    return DuePublic(deck_id=due.deck_id, items=items, due_count=due.due_count, new_today=due.new_today,
                     new_left_today=due.new_left_today)


def review_public(card_id: uuid.UUID, outcome: Outcome) -> ReviewPublic:
    after = outcome.after
    return ReviewPublic(card_id=card_id, rating=outcome.rating, reviewed_at=outcome.reviewed_at, due=after.due,
                        interval_seconds=round(outcome.interval.total_seconds()),
                        state=State(after.state).name.lower(), stability=after.stability,
                        difficulty=after.difficulty, learned=outcome.learned)


def day_counts(days: list[tuple[date, int]]) -> list[DayCount]:
    return [DayCount(day=day, reviews=count) for day, count in days]
