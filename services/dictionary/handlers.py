"""The dictionary service's event handlers: the read model of people (`user.*` events), which
decides who a teacher may share decks with and each student's local day; a deleted user's
decks and review history go with them (docs/security.md, "Account deletion")."""
from __future__ import annotations

from sqlalchemy import delete, select

from services.dictionary.deps import DictionaryDeps
from services.dictionary.models import Card, CardState, Deck, DeckShare, ReviewLog
from services.dictionary.roster import people
from shared.db import UnitOfWork
from shared.events import Event, UserDeleted
from shared.inbox import Handlers


def dictionary_handlers(deps: DictionaryDeps) -> Handlers:
    """Every handler of the service, by event type."""
    handlers = Handlers()
    people.subscribe(handlers, owner=__name__)
    handlers.on("user.deleted")(erase_decks_of_deleted_user)
    return handlers


async def erase_decks_of_deleted_user(uow: UnitOfWork, event: Event) -> None:
    """The user's own decks (nobody sees them once the user's links are gone) with everyone's
    reviews of them, and the user's reviews and shares of other decks."""
    user_id = event.payload_as(UserDeleted).user_id
    decks = select(Deck.id).where(Deck.owner_id == user_id)
    cards = select(Card.id).where(Card.deck_id.in_(decks))
    session = uow.session
    await session.execute(delete(ReviewLog).where((ReviewLog.student_id == user_id) | ReviewLog.card_id.in_(cards)))
    await session.execute(delete(CardState).where((CardState.student_id == user_id) | CardState.card_id.in_(cards)))
    await session.execute(delete(DeckShare).where((DeckShare.student_id == user_id) | DeckShare.deck_id.in_(decks)))
    await session.execute(delete(Card).where(Card.deck_id.in_(decks)))
    await session.execute(delete(Deck).where(Deck.owner_id == user_id))
