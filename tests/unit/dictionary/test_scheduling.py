"""Scheduling through the fsrs library, and what makes two terms the same."""
from datetime import UTC, datetime, timedelta

from fsrs import Card, Rating, Scheduler

from services.dictionary.domain import CardPhase, Memory, ReviewRating, fold_term, review

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_terms_differ_neither_by_case_nor_by_spaces():
    assert fold_term("  Boarding   PASS ") == fold_term("boarding pass") == "boarding pass"
    assert fold_term("Straße") == fold_term("STRASSE")


def test_a_history_of_reviews_is_scheduled_as_the_library_schedules_it():
    library, card = Scheduler(desired_retention=0.85, enable_fuzzing=False), Card(due=T0)
    memory, at = None, T0
    for rating in ("good", "good", "again", "easy"):
        outcome = review(memory, ReviewRating(rating), at, desired_retention=0.85, fuzzing=False, learned_days=21)
        card, _ = library.review_card(card, Rating[rating.title()], at)
        assert (outcome.after.due, outcome.after.stability) == (card.due, card.stability)
        assert outcome.interval == card.due - at
        memory, at = outcome.after, card.due + timedelta(hours=1)


def test_a_card_is_learned_once_its_stability_reaches_the_threshold():
    memory = Memory(state=2, step=None, stability=30.0, difficulty=5.0, due=T0, last_review=T0 - timedelta(days=30))
    outcome = review(memory, ReviewRating.GOOD, T0, desired_retention=0.9, fuzzing=False, learned_days=21)
    assert outcome.learned and outcome.after.phase(21) == CardPhase.LEARNED
    assert Memory(2, None, 20.9, 5.0, T0, T0).phase(21) == CardPhase.REVIEW
    assert Memory(1, 0, 1.0, 5.0, T0, T0).phase(21) == CardPhase.LEARNING
    first = review(None, ReviewRating.AGAIN, T0, desired_retention=0.9, fuzzing=False, learned_days=21)
    assert (first.before, first.learned, first.after.state) == (None, False, 1)
