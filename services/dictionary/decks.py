"""Use cases on decks and their cards: create, list, edit, delete, share with students.

A student sees a teacher's deck while it is shared with them (by name, or with all the
teacher's students) and they are linked to the teacher; unsharing or unlinking hides the deck
but keeps the student's review history, which comes back if the deck is shared again.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import Counter
from sqlalchemy import Row, Select, and_, bindparam, delete, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.dictionary.domain import (
    Access,
    clean_tags,
    clean_text,
    ensure_may_share,
    ensure_owns,
    fold_term,
)
from services.dictionary.models import Card, CardState, Deck, DeckShare, ReviewLog
from services.dictionary.roster import people
from services.dictionary.schemas import CardCreate, CardUpdate, DeckCreate, DeckUpdate, ShareRequest
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, NotFound, Unprocessable
from shared.events import utcnow
from shared.pagination import Page, PageParams, make_page
from shared.people import Directory

DECKS_CREATED = Counter("repitbot_dictionary_decks_created_total", "Decks created", ["role"])
CARDS_CREATED = Counter("repitbot_dictionary_cards_created_total", "Cards created", ["how"])
DUPLICATES_REFUSED = Counter("repitbot_dictionary_duplicate_cards_total", "Cards refused as duplicates", ["how"])
DECKS_SHARED = Counter("repitbot_dictionary_deck_shares_total", "Deck sharing changes", ["change"])


@dataclass(frozen=True)
class DeckView:
    deck: Deck
    card_count: int


# --- access ------------------------------------------------------------------------------------
# A deck, and a card with its deck, read with two columns that say whether the caller is a
# student of the deck's owner (`linked`) and whether it is shared with them by name (`named`):
# one statement per check, built once and bound per call (building costs more CPU than running).
VIEWER = bindparam("viewer_id")
_LINKED = exists().where(people.teacher_links.teacher_id == Deck.owner_id,
                         people.teacher_links.student_id == VIEWER).label("linked")
_NAMED = exists().where(DeckShare.deck_id == Deck.id, DeckShare.student_id == VIEWER).label("named")
DECK = select(Deck, _LINKED, _NAMED).where(Deck.id == bindparam("deck_id"))
DECK_FOR_UPDATE = DECK.with_for_update(of=Deck).execution_options(populate_existing=True)
CARD = select(Deck, Card, _LINKED, _NAMED).join(Card, Card.deck_id == Deck.id).where(Card.id == bindparam("card_id"))


def access_from(deck: Deck, user: Principal, linked: bool, named: bool) -> Access:
    """What the caller is to the deck: its owner, or a linked student it is shared with (by name
    or with all the owner's students)."""
    if deck.owner_id == user.id:
        return Access(owner=True, shared=False)
    if user.role != "student" or not linked:
        return Access(owner=False, shared=False)
    return Access(owner=False, shared=bool(deck.shared_with_all or named))


async def visible_row(session: AsyncSession, user: Principal, stmt: Select, params: dict[str, Any], *,
                      own: bool = False, missing: str = "No such deck") -> Row[Any]:
    """The first row of `stmt` (`DECK`, `CARD`, or one of them with more columns) for `params`,
    when the caller sees its deck. 404 (`missing`) when there is no row or the caller does not
    see the deck; with `own`, 403 unless they own it."""
    row = (await session.execute(stmt, {"viewer_id": user.id, **params})).first()
    if row is None or not access_from(row[0], user, row.linked, row.named).sees:
        raise NotFound(missing)
    if own:
        ensure_owns(access_from(row[0], user, row.linked, row.named))
    return row


async def visible_deck(session: AsyncSession, user: Principal, deck_id: uuid.UUID, *, own: bool = False,
                       for_update: bool = False) -> Deck:
    """The deck, when the caller sees it (404 otherwise); `own`: 403 unless they own it."""
    row = await visible_row(session, user, DECK_FOR_UPDATE if for_update else DECK, {"deck_id": deck_id}, own=own)
    return row[0]


async def visible_card(session: AsyncSession, user: Principal, card_id: uuid.UUID, *,
                       own: bool = False) -> tuple[Card, Deck]:
    row = await visible_row(session, user, CARD, {"card_id": card_id}, own=own, missing="No such card")
    return row[1], row[0]


# --- decks ---------------------------------------------------------------------------------------
async def create_deck(uow: UnitOfWork, user: Principal, data: DeckCreate) -> DeckView:
    now = utcnow()
    async with uow:
        deck = Deck(id=uuid.uuid4(), owner_id=user.id, owner_role=user.role, title=data.title.strip(),
                    source_lang=data.source_lang.lower(), target_lang=data.target_lang.lower(),
                    description=clean_text(data.description), new_per_day=data.new_per_day,
                    desired_retention=data.desired_retention, shared_with_all=False, created_at=now, updated_at=now)
        uow.session.add(deck)
        await uow.commit()
    DECKS_CREATED.labels(user.role).inc()
    return DeckView(deck, 0)


async def get_deck(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> DeckView:
    async with uow.read_only():
        deck = await visible_deck(uow.session, user, deck_id)
        return DeckView(deck, (await card_counts(uow.session, [deck.id])).get(deck.id, 0))


async def list_decks(uow: UnitOfWork, user: Principal, page: PageParams) -> Page[DeckView]:
    """The caller's own decks and those shared with them, oldest first."""
    async with uow.read_only():
        stmt = select(Deck).where(await _visible_decks(uow.session, user))
        if (after := page.after(datetime, uuid.UUID)) is not None:
            stmt = stmt.where(or_(Deck.created_at > after[0], and_(Deck.created_at == after[0], Deck.id > after[1])))
        decks = list(await uow.session.scalars(stmt.order_by(Deck.created_at, Deck.id).limit(page.limit + 1)))
        counts = await card_counts(uow.session, [d.id for d in decks])
    views = [DeckView(deck, counts.get(deck.id, 0)) for deck in decks]
    return make_page(views, page.limit, lambda v: [v.deck.created_at.isoformat(), str(v.deck.id)])


async def _visible_decks(session: AsyncSession, user: Principal) -> Any:
    own = Deck.owner_id == user.id
    if user.role != "student":
        return own
    teachers = await people.teachers_of(session, user.id)
    if not teachers:
        return own
    named = select(DeckShare.deck_id).where(DeckShare.student_id == user.id)
    return or_(own, and_(Deck.owner_id.in_(teachers), or_(Deck.shared_with_all, Deck.id.in_(named))))


async def card_counts(session: AsyncSession, deck_ids: list[uuid.UUID]) -> dict[uuid.UUID, int]:
    if not deck_ids:
        return {}
    rows = await session.execute(select(Card.deck_id, func.count()).where(Card.deck_id.in_(deck_ids))
                                 .group_by(Card.deck_id))
    return dict(rows.all())


async def update_deck(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, data: DeckUpdate) -> DeckView:
    async with uow:
        deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
        for name, value in data.model_dump(exclude_unset=True).items():
            if name in ("source_lang", "target_lang"):
                value = value.lower()
            setattr(deck, name, clean_text(value) if name == "description" else value)
        deck.updated_at = utcnow()
        await uow.commit()
    return await get_deck(uow, user, deck_id)


async def delete_deck(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> None:
    """The deck goes with its cards and every student's review state and log of them."""
    async with uow:
        deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
        cards = select(Card.id).where(Card.deck_id == deck.id)
        await uow.session.execute(delete(ReviewLog).where(ReviewLog.card_id.in_(cards)))
        await uow.session.execute(delete(CardState).where(CardState.card_id.in_(cards)))
        await uow.session.execute(delete(Card).where(Card.deck_id == deck.id))
        await uow.session.execute(delete(DeckShare).where(DeckShare.deck_id == deck.id))
        await uow.session.delete(deck)
        await uow.commit()


# --- sharing -------------------------------------------------------------------------------------
async def share_deck(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, data: ShareRequest, *,
                     directory: Directory) -> tuple[bool, list[uuid.UUID]]:
    """Share with the named students (each must be linked to the teacher) or with all of them."""
    ensure_may_share(user.role)
    async with uow:
        deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
        students = list(dict.fromkeys(data.student_ids))
        strangers = [s for s in students
                     if not await people.confirm_teacher(uow.session, directory, user.id, s)]
        if strangers:
            raise Unprocessable("Decks are shared with linked students only", errors=[
                {"loc": ["body", "student_ids", str(data.student_ids.index(s))], "msg": "not your linked student"}
                for s in strangers])
        if data.all:
            deck.shared_with_all = True
        rows = [{"deck_id": deck.id, "student_id": s, "shared_at": utcnow()} for s in students]
        uow.insert_rows(DeckShare.__table__, rows, ignore_conflicts=True)
        await uow.commit()
    DECKS_SHARED.labels("shared").inc()
    return await shares_of(uow, user, deck_id)


async def unshare_deck(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID,
                       data: ShareRequest) -> tuple[bool, list[uuid.UUID]]:
    """Stop sharing with the named students, or with everyone (`all`); their history stays."""
    ensure_may_share(user.role)
    async with uow:
        deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
        shares = delete(DeckShare).where(DeckShare.deck_id == deck.id)
        if data.all:
            deck.shared_with_all = False
        else:
            shares = shares.where(DeckShare.student_id.in_(data.student_ids))
        await uow.session.execute(shares)
        await uow.commit()
    DECKS_SHARED.labels("unshared").inc()
    return await shares_of(uow, user, deck_id)


async def shares_of(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID) -> tuple[bool, list[uuid.UUID]]:
    async with uow.read_only():
        deck = await visible_deck(uow.session, user, deck_id, own=True)
        students = await uow.session.scalars(select(DeckShare.student_id).where(DeckShare.deck_id == deck.id)
                                             .order_by(DeckShare.shared_at, DeckShare.student_id))
        return deck.shared_with_all, list(students)


# --- cards ---------------------------------------------------------------------------------------
async def create_card(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, data: CardCreate) -> Card:
    now = utcnow()
    try:
        async with uow:
            deck = await visible_deck(uow.session, user, deck_id, own=True, for_update=True)
            key = fold_term(data.term)
            await _refuse_duplicate(uow.session, deck.id, key, how="single")
            card = Card(id=uuid.uuid4(), deck_id=deck.id, term=" ".join(data.term.split()), term_key=key,
                        translation=data.translation.strip(), transcription=clean_text(data.transcription),
                        example=clean_text(data.example), tags=clean_tags(data.tags),
                        position=await next_position(uow.session, deck.id), created_at=now, updated_at=now)
            uow.session.add(card)
            await uow.commit()
    except IntegrityError:
        await _after_lost_race(uow, deck_id, data.term)
    CARDS_CREATED.labels("single").inc()
    return card


async def next_position(session: AsyncSession, deck_id: uuid.UUID) -> int:
    return (await session.scalar(select(func.max(Card.position)).where(Card.deck_id == deck_id)) or 0) + 1


async def _refuse_duplicate(session: AsyncSession, deck_id: uuid.UUID, key: str, *, how: str,
                            ignore: uuid.UUID | None = None) -> None:
    existing = await session.scalar(select(Card.id).where(Card.deck_id == deck_id, Card.term_key == key))
    if existing is not None and existing != ignore:
        DUPLICATES_REFUSED.labels(how).inc()
        raise Conflict(f"The deck already has this term: card {existing}",
                       errors=[{"loc": ["body", "term"], "msg": f"duplicate of card {existing}"}])


async def _after_lost_race(uow: UnitOfWork, deck_id: uuid.UUID, term: str) -> None:
    """Another request added the same term a moment ago: name its card."""
    async with uow.read_only():
        await _refuse_duplicate(uow.session, deck_id, fold_term(term), how="race")
    raise Conflict("The deck changed at the same time; retry")


async def get_card(uow: UnitOfWork, user: Principal, card_id: uuid.UUID) -> Card:
    async with uow.read_only():
        return (await visible_card(uow.session, user, card_id))[0]


async def list_cards(uow: UnitOfWork, user: Principal, deck_id: uuid.UUID, page: PageParams) -> Page[Card]:
    async with uow.read_only():
        deck = await visible_deck(uow.session, user, deck_id)
        stmt = select(Card).where(Card.deck_id == deck.id)
        if (after := page.after(int, uuid.UUID)) is not None:
            stmt = stmt.where(or_(Card.position > after[0], and_(Card.position == after[0], Card.id > after[1])))
        cards = list(await uow.session.scalars(stmt.order_by(Card.position, Card.id).limit(page.limit + 1)))
    return make_page(cards, page.limit, lambda c: [c.position, str(c.id)])


async def update_card(uow: UnitOfWork, user: Principal, card_id: uuid.UUID, data: CardUpdate) -> Card:
    """The owner's edit; every student studying the deck sees it (their review state stays)."""
    try:
        async with uow:
            card, _ = await visible_card(uow.session, user, card_id, own=True)
            changes = data.model_dump(exclude_unset=True)
            if "term" in changes:
                card.term_key = fold_term(changes["term"])
                await _refuse_duplicate(uow.session, card.deck_id, card.term_key, how="edit", ignore=card.id)
                card.term = " ".join(changes["term"].split())
            if "translation" in changes:
                card.translation = changes["translation"].strip()
            for name in ("transcription", "example"):
                if name in changes:
                    setattr(card, name, clean_text(changes[name]))
            if "tags" in changes:
                card.tags = clean_tags(changes["tags"])
            card.updated_at = utcnow()
            await uow.commit()
    except IntegrityError:
        await _after_lost_race(uow, card.deck_id, data.term)
    return card


async def delete_card(uow: UnitOfWork, user: Principal, card_id: uuid.UUID) -> None:
    async with uow:
        card, _ = await visible_card(uow.session, user, card_id, own=True)
        await uow.session.execute(delete(ReviewLog).where(ReviewLog.card_id == card.id))
        await uow.session.execute(delete(CardState).where(CardState.card_id == card.id))
        await uow.session.delete(card)
        await uow.commit()
