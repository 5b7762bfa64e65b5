"""Whatever a chat sends — any text, any command with any arguments, any button data, forged or
copied from another person's message — the bot answers it, nothing fails, and nobody acts on
what is not theirs. The inputs are drawn from a seeded generator, so a failure is reproduced by
its seed (printed in the assertion)."""
from __future__ import annotations

import random
import string
import uuid
from typing import Any

from prometheus_client import REGISTRY

from telegram_bot.commands import MENUS
from telegram_bot.keyboards import AssignCB, CardCB, GradeCB, LessonAction, LessonCB, ScoreCB
from tests.e2e.bot.conftest import Chat
from tests.e2e.bot.test_bot_flows import lesson_for, teacher_and_student
from tests.support import eventually

SEED = 20261205
COMMANDS = sorted({name for names in MENUS.values() for name in names} | {"cancel", "nonsense"})
PREFIXES = ("sch", "les", "scr", "att", "open_lesson", "cnr", "hw", "hws", "hwg", "crd", "top", "asg")
PIECES = ("", "0", "-1", "99999999999999999999", "today", "week", "start", "complete", "true", "no",
          "null", "%s", "' OR 1=1 --", "🙂", "ы" * 20)


def updates_seen() -> float:
    return sum(REGISTRY.get_sample_value("repitbot_bot_updates_total", {"outcome": outcome}) or 0.0
               for outcome in ("handled", "duplicate"))


def failed() -> float:
    return REGISTRY.get_sample_value("repitbot_bot_updates_total", {"outcome": "failed"}) or 0.0


def a_word(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + string.punctuation + "абвгдёжзий​‮\u00a0"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))


def a_text(rng: random.Random) -> str:
    """Free text, a known or unknown command with any arguments, or something very long."""
    kind = rng.randrange(4)
    if kind == 0:
        return " ".join(a_word(rng) for _ in range(rng.randint(1, 6)))
    if kind == 1:
        args = " ".join(rng.choice((a_word(rng), str(uuid.uuid4()), rng.choice(PIECES))) for _ in range(rng.randint(0, 3)))
        return f"/{rng.choice(COMMANDS)} {args}".strip()
    if kind == 2:
        return rng.choice(PIECES) or "?"
    return rng.choice("абв xyz 🙂") * 4096


def a_button(rng: random.Random, real: list[str]) -> str:
    """Callback data: a known prefix with any fields, a real button's data with one field
    changed, or anything at all; at most Telegram's 64 bytes."""
    kind = rng.randrange(3)
    if kind == 0:
        fields = [rng.choice((a_word(rng), str(uuid.uuid4()), rng.choice(PIECES))) for _ in range(rng.randint(0, 4))]
        data = ":".join([rng.choice(PREFIXES), *fields])
    elif kind == 1 and real:
        parts = rng.choice(real).split(":")
        parts[rng.randrange(len(parts))] = rng.choice((str(uuid.uuid4()), rng.choice(PIECES), a_word(rng)))
        data = ":".join(parts)
    else:
        data = a_word(rng)
    return data.encode()[:64].decode(errors="ignore") or "x"


async def answered(telegram: Any, chat: Chat, update: dict, seen: float, label: str) -> None:
    """The update was taken (a counter moved) and answered: a tap with an answer to its query, a
    message with a message to the chat after it."""
    await eventually(lambda: updates_seen() > seen, timeout=20)
    if "callback_query" in update:
        query = update["callback_query"]["id"]
        await eventually(lambda: any(c.params.get("callback_query_id") == query
                                     for c in telegram.called("answerCallbackQuery")), timeout=20)
    else:
        mark = update["message"]["message_id"]
        try:
            await eventually(lambda: any(m.message_id > mark for m in telegram.sent_to(chat.chat_id)), timeout=20)
        except AssertionError:
            raise AssertionError(f"no answer to {label}:\n" + telegram.transcript()) from None


async def test_any_text_or_button_data_is_answered_and_nothing_fails(bot_platform):
    telegram = bot_platform.telegram
    teacher, student = await teacher_and_student(bot_platform)
    await lesson_for(bot_platform, teacher, student)
    chats = [await bot_platform.linked_chat(teacher), await bot_platform.linked_chat(student),
             Chat(telegram, 556_000_001)]                     # and a chat nobody linked
    card = await chats[0].ask("/today", "Математика")
    real = [b["callback_data"] for row in card.buttons for b in row] + [
        LessonCB(action=LessonAction.COMPLETE, lesson_id=uuid.uuid4()).pack(), ScoreCB(lesson_id=uuid.uuid4(), score=5).pack(),
        GradeCB(homework_id=uuid.uuid4(), score=3).pack(), CardCB(card_id=uuid.uuid4(), rating="good").pack(),
        AssignCB(student_id=uuid.UUID(student.id), days=3).pack()]
    failures = failed()

    rng = random.Random(SEED)
    for step in range(60):
        chat = rng.choice(chats)
        seen = updates_seen()
        if rng.random() < 0.5:
            data = a_button(rng, real)
            update = telegram.tap_data(chat.chat_id, card, data)
            label = f"step {step} (seed {SEED}): tap {data!r} in chat {chat.chat_id}"
        else:
            text = a_text(rng)
            update = chat.say(text)
            label = f"step {step} (seed {SEED}): {text[:80]!r} in chat {chat.chat_id}"
        await answered(telegram, chat, update, seen, label)
        assert failed() == failures, f"{label} failed:\n" + telegram.transcript()[-3000:]


async def test_buttons_copied_from_another_teachers_lesson_change_nothing(bot_platform):
    teacher, student = await teacher_and_student(bot_platform)
    lesson = await lesson_for(bot_platform, teacher, student)
    card = await (await bot_platform.linked_chat(teacher)).ask("/today", "Математика")
    stranger = await bot_platform.linked_chat(await bot_platform.account("teacher", "Чужой Учитель"))
    telegram = bot_platform.telegram

    for label in ("Начать", "Отменить"):
        seen = updates_seen()
        update = stranger.tap(card, label)       # the teacher's message, tapped by someone else
        await answered(telegram, stranger, update, seen, label)
        query = update["callback_query"]["id"]
        assert [c.params.get("text") for c in telegram.called("answerCallbackQuery")
                if c.params.get("callback_query_id") == query] == ["Это не ваша кнопка."]
    got = await bot_platform.client.get(f"/api/v1/lessons/{lesson['id']}", headers=teacher.headers)
    assert got.json()["status"] == "scheduled"


async def test_a_group_chat_cannot_be_linked_and_gets_one_answer(bot_platform):
    telegram = bot_platform.telegram
    student = await bot_platform.account("student", "Групповой Ученик")
    made = await bot_platform.client.post("/api/v1/users/me/telegram-link", headers=student.headers)
    token = made.json()["token"]
    group, member = -100_777_000_001, 557_000_001

    seen, mark = updates_seen(), telegram.last_id()
    text = f"/start {token}"
    telegram.push({"update_id": 10**9 + member, "message": {
        "message_id": 10**9 + member, "date": 0, "text": text, "chat": {"id": group, "type": "group", "title": "Класс"},
        "from": {"id": member, "is_bot": False, "first_name": "Member", "language_code": "ru"},
        "entities": [{"type": "bot_command", "offset": 0, "length": 6}]}})
    await eventually(lambda: updates_seen() > seen)
    assert "только в личном чате" in (await telegram.reply_to(group, containing="личном", after=mark)).text

    # the link was not spent: the student's own chat links with it
    assert "привязан" in (await Chat(telegram, member).ask(text, "привязан")).text
