"""Word review: the due cards of the student's decks one by one, the pronunciation as a voice
message, the answer on a tap, the four FSRS ratings as buttons."""
from __future__ import annotations

import uuid

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.types import BufferedInputFile, CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError, Card
from telegram_bot.identity import Caller, Linked
from telegram_bot.keyboards import RATINGS, CardCB, rating_keyboard, reveal_keyboard
from telegram_bot.routers.lessons import first_tap

router = Router(name="words")
router.message.filter(Linked("student"))
router.callback_query.filter(Linked("student"))


async def next_card(caller: Caller, deck_id: uuid.UUID | None = None) -> Card | None:
    """The first due card of `deck_id`, else of the first deck that has one."""
    deck_ids = [deck_id] if deck_id else [deck.id for deck in await caller.api.decks()]
    for candidate in deck_ids:
        due = await caller.api.due_cards(candidate)
        if due:
            return due[0]
    return None


async def show_card(bot: Bot, chat_id: int, caller: Caller, card: Card) -> None:
    question = card.term + (f" [{card.transcription}]" if card.transcription else "")
    try:
        audio = await caller.api.card_audio(card.id)
    except ApiError as exc:
        if exc.status not in (404, 415, 422, 503):
            raise
        audio = b""
    if audio:
        await bot.send_voice(chat_id, BufferedInputFile(audio, filename="word.ogg"), caption=question,
                             reply_markup=reveal_keyboard(card.id))
    else:
        await bot.send_message(chat_id, question, reply_markup=reveal_keyboard(card.id))


@router.message(Command("words"))
async def words(message: Message, caller: Caller, bot: Bot) -> None:
    card = await next_card(caller)
    if card is None:
        await message.answer(_("No words to review now. Well done!"))
        return
    await show_card(bot, message.chat.id, caller, card)


@router.callback_query(CardCB.filter(F.rating == ""))
async def reveal(callback: CallbackQuery, callback_data: CardCB, caller: Caller, bot: Bot) -> None:
    try:
        card = await caller.api.card(callback_data.card_id)
    except ApiError as exc:
        if exc.status != 404:
            raise
        await callback.answer(_("This card no longer exists."), show_alert=True)
        return
    await callback.answer()
    answer = card.translation + (f"\n{card.example}" if card.example else "")
    chat_id = callback.message.chat.id if callback.message else callback.from_user.id
    await bot.send_message(chat_id, f"{card.term} — {answer}\n\n" + _("How well did you remember?"),
                           reply_markup=rating_keyboard(card.id))


@router.callback_query(CardCB.filter(F.rating.in_(RATINGS)))
async def rate(callback: CallbackQuery, callback_data: CardCB, caller: Caller, bot: Bot, chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    try:
        card = await caller.api.card(callback_data.card_id)
        await caller.api.review_card(card.id, callback_data.rating, key=key)
    except ApiError as exc:
        if exc.status not in (404, 409):
            raise
        await callback.answer(_("This card no longer exists.") if exc.status == 404 else _("Rated already."),
                              show_alert=True)
        return
    await callback.answer(_("Saved."))
    if isinstance(callback.message, Message):
        await callback.message.edit_reply_markup(reply_markup=None)
    chat_id = callback.message.chat.id if callback.message else callback.from_user.id
    following = await next_card(caller, card.deck_id) or await next_card(caller)
    if following is None:
        await bot.send_message(chat_id, _("No words to review now. Well done!"))
    else:
        await show_card(bot, chat_id, caller, following)
