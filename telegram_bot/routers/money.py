"""Balance and top-up: a student's own, a parent's for each child; a top-up answers the payment
provider's confirmation link."""
from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from telegram_bot.chats import Chats
from telegram_bot.gateway import ApiError, Balance
from telegram_bot.identity import Caller, Linked
from telegram_bot.keyboards import TopUpCB, top_up_keyboard
from telegram_bot.routers.lessons import first_tap, names_of

router = Router(name="money")
router.message.filter(Linked("student", "parent"))
router.callback_query.filter(Linked("student", "parent"))


def money(amount: int, currency: str) -> str:
    return f"{amount / 100:.2f} {currency}".replace(".00 ", " ")


def balance_text(balance: Balance, name: str | None = None) -> str:
    head = f"{name}: " if name else ""
    if balance.balance is None:
        return head + _("no balance yet")
    text = head + _("balance {amount}").format(amount=money(balance.balance.amount, balance.balance.currency))
    return text + (" — " + _("debt") if balance.balance.amount < 0 else "")


@router.message(Command("balance"))
async def balance(message: Message, caller: Caller) -> None:
    if caller.role == "student":
        found = await caller.api.balance()
        currency = found.balance.currency if found.balance else "RUB"
        await message.answer(balance_text(found), reply_markup=top_up_keyboard(currency))
        return
    names = await names_of(caller)
    if not names:
        await message.answer(_("No children linked yet: ask your child to send you an invite (/parent_invite)."))
    for child_id, name in names.items():
        found = await caller.api.balance(child_id)
        currency = found.balance.currency if found.balance else "RUB"
        await message.answer(balance_text(found, name), reply_markup=top_up_keyboard(currency, child_id))


@router.callback_query(TopUpCB.filter())
async def top_up(callback: CallbackQuery, callback_data: TopUpCB, caller: Caller, chats: Chats) -> None:
    if (key := await first_tap(callback, chats)) is None:
        return
    try:
        payment = await caller.api.top_up(callback_data.amount, "RUB", callback_data.student_id, key=key)
    except ApiError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        await callback.answer(_("The platform refused: {detail}").format(detail=exc.detail), show_alert=True)
        return
    await callback.answer()
    if isinstance(callback.message, Message):
        link = payment.confirmation_url or _("(the payment is {status})").format(status=payment.status)
        await callback.message.answer(_("Pay here:") + f"\n{link}")
