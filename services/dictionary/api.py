"""The dictionary API's routes: thin, they parse, call a use case and return a schema."""
from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.dictionary import decks, media, study, transfer
from services.dictionary.deps import DepsDep, SettingsDep
from services.dictionary.models import IdempotencyKey
from services.dictionary.schemas import (
    BadLinePublic,
    CardCreate,
    CardPublic,
    CardUpdate,
    DeckCreate,
    DeckPublic,
    DeckUpdate,
    DuePublic,
    DuplicatePublic,
    ImportReport,
    ReviewCreate,
    ReviewPublic,
    ShareRequest,
    SharesPublic,
    StatsPublic,
    UndonePublic,
)
from services.dictionary.transfer import EXTENSIONS
from services.dictionary.views import day_counts, due_public, memory_public, review_public
from shared.app import StorageDep, UowDep
from shared.auth import CurrentUser
from shared.downloads import content_disposition, file_response, file_responses
from shared.idempotency import idempotency
from shared.pagination import Page, PageDep
from shared.storage import LocalStorage
from shared.uploads import MULTIPART_FILE_BODY, multipart_file

decks_router = APIRouter(prefix="/api/v1/decks", tags=["dictionary"])
cards_router = APIRouter(prefix="/api/v1/cards", tags=["dictionary"])
Once = idempotency(IdempotencyKey)

OWNER_ONLY = {403: {"description": "Only the deck's owner may do this"}}
STUDENTS_ONLY = {403: {"description": "Only students study decks"}}
UPLOAD = {413: {"description": "The file is larger than the limit"},
          415: {"description": "The bytes are not of an accepted type"}, **OWNER_ONLY}
AUDIO = {**file_responses("audio/*"),
         422: {"description": "espeak-ng has no voice for the deck's language"},
         503: {"description": "The pronunciation cannot be generated here now (espeak-ng or opusenc "
                              "missing or failing); the detail says which"}}
DUPLICATE = {409: {"description": "The deck already has this term (case and spaces aside); "
                                  "the detail names the existing card"}}


async def _file(request: Request, storage: LocalStorage, found: media.Media, name: str) -> Response:
    return await file_response(request, storage, found.key, content_type=found.content_type, inline=True,
                               filename=f"{name}.{EXTENSIONS.get(found.content_type, 'bin')}",
                               size=storage.size(found.key), headers={"Cache-Control": "private, max-age=300",
                                                                      "X-Content-Type-Options": "nosniff"})


def _attachment(body: bytes, media_type: str, title: str, extension: str) -> Response:
    return Response(body, media_type=media_type,
                    headers={"Content-Disposition": content_disposition(f"{title}.{extension}")})


# --- decks ---------------------------------------------------------------------------------------
@decks_router.post("", status_code=201, response_model=DeckPublic)
async def create_deck(data: DeckCreate, user: CurrentUser, uow: UowDep, once: Once) -> Response:
    """A deck of the caller's own (teachers and students alike)."""
    async def create() -> DeckPublic:
        view = await decks.create_deck(uow, user, data)
        return DeckPublic.of(view.deck, view.card_count)
    return await once.run(uow, create, status_code=201)


@decks_router.get("", response_model=Page[DeckPublic])
async def list_decks(user: CurrentUser, uow: UowDep, page: PageDep) -> Page[DeckPublic]:
    """The caller's own decks and those shared with them."""
    found = await decks.list_decks(uow, user, page)
    return found.map(lambda view: DeckPublic.of(view.deck, view.card_count))


@decks_router.get("/{deck_id:uuid}", response_model=DeckPublic)
async def get_deck(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> DeckPublic:
    view = await decks.get_deck(uow, user, deck_id)
    return DeckPublic.of(view.deck, view.card_count)


@decks_router.patch("/{deck_id:uuid}", response_model=DeckPublic, responses=OWNER_ONLY)
async def update_deck(deck_id: uuid.UUID, data: DeckUpdate, user: CurrentUser, uow: UowDep) -> DeckPublic:
    view = await decks.update_deck(uow, user, deck_id, data)
    return DeckPublic.of(view.deck, view.card_count)


@decks_router.delete("/{deck_id:uuid}", status_code=204, responses=OWNER_ONLY)
async def delete_deck(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    """The deck goes with its cards and every student's reviews of them."""
    await decks.delete_deck(uow, user, deck_id)
    return Response(status_code=204)


@decks_router.get("/{deck_id:uuid}/share", response_model=SharesPublic, responses=OWNER_ONLY)
async def get_shares(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> SharesPublic:
    everyone, students = await decks.shares_of(uow, user, deck_id)
    return SharesPublic(all=everyone, student_ids=students)


@decks_router.post("/{deck_id:uuid}/share", response_model=SharesPublic, responses={
    403: {"description": "Only the teacher who owns the deck shares it"},
    422: {"description": "Invalid input, or a student not linked to the teacher"},
    503: {"description": "A link not known here yet cannot be confirmed now (`Retry-After`)"}})
async def share_deck(deck_id: uuid.UUID, data: ShareRequest, user: CurrentUser, uow: UowDep,
                     deps: DepsDep) -> SharesPublic:
    """Share with linked students by id, or with `all` of them (students linked later too). Each
    studies it with their own review state; the teacher's edits show for everyone."""
    everyone, students = await decks.share_deck(uow, user, deck_id, data, directory=deps.directory)
    return SharesPublic(all=everyone, student_ids=students)


@decks_router.post("/{deck_id:uuid}/unshare", response_model=SharesPublic, responses={
    403: {"description": "Only the teacher who owns the deck shares it"}})
async def unshare_deck(deck_id: uuid.UUID, data: ShareRequest, user: CurrentUser, uow: UowDep) -> SharesPublic:
    """Stop sharing with those students (`all`: with everyone). The deck is hidden from them;
    their review history is kept and comes back if it is shared again."""
    everyone, students = await decks.unshare_deck(uow, user, deck_id, data)
    return SharesPublic(all=everyone, student_ids=students)


# --- cards of a deck -----------------------------------------------------------------------------
@decks_router.post("/{deck_id:uuid}/cards", status_code=201, response_model=CardPublic,
                   responses={**OWNER_ONLY, **DUPLICATE})
async def create_card(deck_id: uuid.UUID, data: CardCreate, user: CurrentUser, uow: UowDep, once: Once) -> Response:
    async def create() -> CardPublic:
        return CardPublic.of(await decks.create_card(uow, user, deck_id, data))
    return await once.run(uow, create, status_code=201)


@decks_router.get("/{deck_id:uuid}/cards", response_model=Page[CardPublic])
async def list_cards(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep, page: PageDep) -> Page[CardPublic]:
    return (await decks.list_cards(uow, user, deck_id, page)).map(CardPublic.of)


@decks_router.post("/{deck_id:uuid}/import", response_model=ImportReport, openapi_extra=MULTIPART_FILE_BODY,
                   responses={**UPLOAD, 422: {"description": "Not a text file; more rows than allowed; "
                                                             "with `strict`, any bad line"}})
async def import_words(deck_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep,
                       settings: SettingsDep, strict: bool = False) -> ImportReport:
    """Multipart `file`: CSV or TSV, columns term, translation, example, transcription, tags (a
    header row names them, in any order; without one, in this order). UTF-8 (with or without a
    byte order mark) or another encoding such as Windows-1251 is detected, and so is the delimiter.
    All or nothing: the cards are written in one transaction. Terms the deck already has (or an
    earlier line had) are skipped as duplicates; lines that cannot be cards are listed with their
    number and reason (`strict=true`: any such line refuses the file). An Anki package (`.apkg`,
    recognised by its bytes) imports its notes the same way, a note's number as its line."""
    chunks = multipart_file(request, max_bytes=settings.dictionary_import_max_bytes)
    await transfer.ensure_importable(uow, user, deck_id)
    data = await transfer.read_all(chunks)
    report = await transfer.import_words(uow, user, deck_id, data, strict=strict,
                                         max_rows=settings.dictionary_import_max_rows)
    parsed = report.parsed
    return ImportReport(
        imported=report.imported, encoding=parsed.encoding, delimiter=parsed.delimiter, header=parsed.header,
        duplicates=[DuplicatePublic(line=d.line, term=d.term, existing_card_id=d.existing_card_id)
                    for d in report.duplicates],
        bad_lines=[BadLinePublic(line=b.line, reason=b.reason) for b in parsed.bad])


@decks_router.get("/{deck_id:uuid}/export", response_class=Response, responses={
    200: {"content": {"text/csv": {}, "application/apkg": {}},
          "description": "The deck as CSV (UTF-8 with a byte order mark) or as an Anki package"}, **OWNER_ONLY})
async def export_deck(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep, storage: StorageDep,
                      format: Literal["csv", "apkg"] = "csv") -> Response:
    """`format=csv`: the columns the import reads, with a header; `format=apkg`: an Anki package
    with the uploaded pronunciations and pictures (Anki updates the notes on a second import)."""
    if format == "apkg":
        deck, body = await transfer.export_apkg(uow, user, deck_id, storage)
        return _attachment(body, "application/apkg", deck.title, "apkg")
    deck, body = await transfer.export_csv(uow, user, deck_id)
    return _attachment(body, "text/csv; charset=utf-8", deck.title, "csv")


# --- studying ------------------------------------------------------------------------------------
@decks_router.get("/{deck_id:uuid}/due", response_model=DuePublic, responses=STUDENTS_ONLY)
async def due_cards(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep, settings: SettingsDep,
                    limit: Annotated[int, Query(ge=1, le=200)] = 50) -> DuePublic:
    """What the caller has to study now: cards due by their FSRS schedule, then new cards up to
    the deck's `new_per_day` for the caller's local day."""
    due = await study.due_cards(uow, user, deck_id, limit=limit)
    return due_public(due, settings.dictionary_learned_stability_days)


@decks_router.get("/{deck_id:uuid}/stats", response_model=StatsPublic, responses=STUDENTS_ONLY)
async def deck_stats(deck_id: uuid.UUID, user: CurrentUser, uow: UowDep, settings: SettingsDep) -> StatsPublic:
    """The caller's cards by phase, reviews per local day and retention over the last 30 days."""
    found = await study.deck_stats(uow, user, deck_id, learned_days=settings.dictionary_learned_stability_days)
    phases = {phase.value: count for phase, count in found.phases.items()}
    return StatsPublic(deck_id=found.deck_id, **phases, reviews_per_day=day_counts(found.reviews_per_day),
                       retention_30d=found.retention)


# --- cards ---------------------------------------------------------------------------------------
@cards_router.get("/{card_id:uuid}", response_model=CardPublic)
async def get_card(card_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> CardPublic:
    return CardPublic.of(await decks.get_card(uow, user, card_id))


@cards_router.patch("/{card_id:uuid}", response_model=CardPublic, responses={**OWNER_ONLY, **DUPLICATE})
async def update_card(card_id: uuid.UUID, data: CardUpdate, user: CurrentUser, uow: UowDep) -> CardPublic:
    """The owner's edit shows for every student; a new term gets a new generated pronunciation."""
    return CardPublic.of(await decks.update_card(uow, user, card_id, data))


@cards_router.delete("/{card_id:uuid}", status_code=204, responses=OWNER_ONLY)
async def delete_card(card_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> Response:
    await decks.delete_card(uow, user, card_id)
    return Response(status_code=204)


@cards_router.post("/{card_id:uuid}/reviews", status_code=201, response_model=ReviewPublic, responses={
    **STUDENTS_ONLY, 409: {"description": "The same card reviewed by two requests at once, or an "
                                          "`Idempotency-Key` reused with another request"}})
async def review_card(card_id: uuid.UUID, data: ReviewCreate, user: CurrentUser, uow: UowDep, once: Once,
                      settings: SettingsDep) -> Response:
    """Rate the recall (`again`, `hard`, `good`, `easy`); FSRS gives the next due time. Send an
    `Idempotency-Key`: a retried request gives the first answer and does not advance the card twice."""
    async def rate() -> ReviewPublic:
        outcome = await study.review_card(uow, user, card_id, data.rating, settings=settings)
        return review_public(card_id, outcome)
    return await once.run(uow, rate, status_code=201)


@cards_router.post("/{card_id:uuid}/reviews/undo", response_model=UndonePublic, responses={
    **STUDENTS_ONLY, 409: {"description": "No review of this card to undo"}})
async def undo_review(card_id: uuid.UUID, user: CurrentUser, uow: UowDep, settings: SettingsDep) -> UndonePublic:
    """Undo the caller's last review of the card: its state goes back to what it was before (again
    for the one before, and so on). The XP the review gave stays."""
    undone = await study.undo_last_review(uow, user, card_id)
    return UndonePublic(card_id=undone.card_id, undone_rating=undone.rating,
                        memory=memory_public(undone.state, settings.dictionary_learned_stability_days))


@cards_router.head("/{card_id:uuid}/audio", include_in_schema=False)
@cards_router.get("/{card_id:uuid}/audio", response_class=StreamingResponse, responses=AUDIO)
async def get_audio(card_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep, storage: StorageDep,
                    deps: DepsDep) -> Response:
    """The uploaded pronunciation as it was uploaded; otherwise one generated with espeak-ng in
    the deck's language, as OGG/Opus (made once per text and voice, then kept)."""
    found, term = await media.audio_of(uow, storage, deps.synthesiser, user, card_id)
    return await _file(request, storage, found, term)


@cards_router.put("/{card_id:uuid}/audio", response_model=CardPublic, openapi_extra=MULTIPART_FILE_BODY,
                  responses=UPLOAD)
async def put_audio(card_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep, storage: StorageDep,
                    settings: SettingsDep) -> CardPublic:
    """Multipart `file`: OGG, MP3, WAV, FLAC, M4A, AAC, AMR or WebM audio (checked from its bytes),
    5 MB at most."""
    chunks = multipart_file(request, max_bytes=settings.dictionary_audio_max_bytes)
    await media.ensure_editable(uow, user, card_id)
    return CardPublic.of(await media.attach(uow, storage, user, card_id, "audio", chunks,
                                            max_bytes=settings.dictionary_audio_max_bytes))


@cards_router.delete("/{card_id:uuid}/audio", response_model=CardPublic, responses=OWNER_ONLY)
async def delete_audio(card_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> CardPublic:
    """Drop the uploaded pronunciation: a generated one is served again."""
    return CardPublic.of(await media.detach(uow, user, card_id, "audio"))


@cards_router.head("/{card_id:uuid}/image", include_in_schema=False)
@cards_router.get("/{card_id:uuid}/image", response_class=StreamingResponse, responses=file_responses("image/*"))
async def get_image(card_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep,
                    storage: StorageDep) -> Response:
    found, term = await media.image_of(uow, user, card_id)
    return await _file(request, storage, found, term)


@cards_router.put("/{card_id:uuid}/image", response_model=CardPublic, openapi_extra=MULTIPART_FILE_BODY,
                  responses=UPLOAD)
async def put_image(card_id: uuid.UUID, request: Request, user: CurrentUser, uow: UowDep, storage: StorageDep,
                    settings: SettingsDep) -> CardPublic:
    """Multipart `file`: a PNG, JPEG, GIF or WebP picture (checked from its bytes), 5 MB at most."""
    chunks = multipart_file(request, max_bytes=settings.dictionary_image_max_bytes)
    await media.ensure_editable(uow, user, card_id)
    return CardPublic.of(await media.attach(uow, storage, user, card_id, "image", chunks,
                                            max_bytes=settings.dictionary_image_max_bytes))


@cards_router.delete("/{card_id:uuid}/image", response_model=CardPublic, responses=OWNER_ONLY)
async def delete_image(card_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> CardPublic:
    return CardPublic.of(await media.detach(uow, user, card_id, "image"))
