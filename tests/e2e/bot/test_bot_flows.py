"""The bot, driven through the fake Bot API, against the embedded platform: linking, schedules,
a teacher completing a lesson with buttons, languages, repeated updates, bad input, Telegram's
429 and 403. Every answer asserted is a text the fake server recorded."""
from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta

from prometheus_client import REGISTRY

from services.notification.models import Contact
from telegram_bot.keyboards import LessonAction, LessonCB
from tests.e2e.bot.conftest import Chat
from tests.e2e.conftest import link, settle
from tests.support import eventually


def noon_zone() -> str:
    """A time zone where it is about noon now: a lesson in a few minutes is "today" there."""
    offset = (12 - datetime.now(UTC).hour) % 24
    offset = offset - 24 if offset > 14 else offset
    return f"Etc/GMT{-offset:+d}" if offset else "UTC"


def counted(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def lesson_for(bot_platform, teacher, student, *, title: str = "Дроби") -> dict:
    starts = datetime.now(UTC) + timedelta(minutes=5)
    made = await bot_platform.client.post("/api/v1/lessons", headers=teacher.headers, json={
        "student_id": student.id, "subject": "Математика", "title": title,
        "starts_at": starts.isoformat(), "duration_minutes": 60})
    assert made.status_code == 201, made.text
    return made.json()


async def teacher_and_student(bot_platform):
    zone = noon_zone()
    teacher = await bot_platform.account("teacher", "Мария Иванова", timezone=zone)
    student = await bot_platform.account("student", "Анна Смирнова", timezone=zone)
    await link(bot_platform.client, teacher, student)
    return teacher, student


async def test_a_student_sees_the_schedule_and_a_teacher_completes_the_lesson_with_buttons(bot_platform):
    teacher, student = await teacher_and_student(bot_platform)
    student_chat = await bot_platform.linked_chat(student)
    teacher_chat = await bot_platform.linked_chat(teacher)
    await settle(bot_platform.client)             # the notification service knows both chats
    lesson = await lesson_for(bot_platform, teacher, student)

    reminder = await student_chat.reply("Напоминание об уроке «Дроби»")   # from the notification service
    mark = bot_platform.telegram.last_id()
    student_chat.tap(reminder, "Открыть урок")
    opened = await student_chat.reply("Математика: Дроби", after=mark)
    assert opened.buttons == []                    # a student's card has no teacher buttons

    week = await student_chat.ask("/schedule", "Занятия на неделе")
    assert "Математика: Дроби (60 мин) — запланировано" in week.text
    mark = bot_platform.telegram.last_id()
    student_chat.tap(week, "Сегодня")
    await eventually(lambda: week.text.startswith("Занятия сегодня"))
    assert "Дроби" in week.text and bot_platform.telegram.last_id() == mark   # edited, not sent again

    await teacher_chat.reply("Напоминание об уроке «Дроби»")   # the teacher's too, before the card is asked
    card = await teacher_chat.ask("/today", "Математика: Дроби")
    assert "Анна Смирнова" in card.text
    teacher_chat.tap(card, "Начать")
    await eventually(lambda: "идёт" in card.text)
    teacher_chat.tap(card, "Завершить")
    await eventually(lambda: any(b["text"] == "90" for row in card.buttons for b in row))
    teacher_chat.tap(card, "90")
    await eventually(lambda: any(b["text"] == "Был" for row in card.buttons for b in row))
    teacher_chat.tap(card, "Был")
    await eventually(lambda: "завершено · оценка 90" in card.text)
    assert card.buttons == []

    got = await bot_platform.client.get(f"/api/v1/lessons/{lesson['id']}", headers=teacher.headers)
    assert got.json()["status"] == "completed" and got.json()["score"] == 90
    await settle(bot_platform.client)
    progress = await student_chat.ask("/progress", "XP")
    assert "Уровень 1" in progress.text and " 0 XP" not in progress.text
    assert "Новые достижения: Первый шаг" in progress.text
    chart = await eventually(lambda: next((m for m in bot_platform.telegram.sent_to(student_chat.chat_id)
                                           if m.kind == "photo" and m.message_id > progress.message_id), None))
    sent = [c for c in bot_platform.telegram.called("sendPhoto") if int(c.params["chat_id"]) == student_chat.chat_id]
    assert chart and sent[-1].files["photo"].startswith(b"\x89PNG")    # the analytics progress chart


async def test_the_same_update_twice_and_a_double_tap_do_one_thing(bot_platform):
    teacher, student = await teacher_and_student(bot_platform)
    lesson = await lesson_for(bot_platform, teacher, student)
    chat = await bot_platform.linked_chat(teacher)
    card = await chat.ask("/today", "Математика: Дроби")

    duplicates = counted("repitbot_bot_updates_total", outcome="duplicate")
    tap = chat.tap(card, "Начать")
    bot_platform.telegram.push(tap)                       # Telegram delivers the same update again
    await eventually(lambda: counted("repitbot_bot_updates_total", outcome="duplicate") > duplicates)
    await eventually(lambda: "идёт" in card.text)

    chat.tap(card, "Завершить")
    await eventually(lambda: any(b["text"] == "Был" for row in card.buttons for b in row) or
                     any(b["text"] == "100" for row in card.buttons for b in row))
    chat.tap(card, "100")
    await eventually(lambda: any(b["text"] == "Был" for row in card.buttons for b in row))
    chat.tap(card, "Был")
    chat.tap(card, "Был")                                 # a double tap: two updates, one button
    await eventually(lambda: "завершено" in card.text)
    await eventually(lambda: len([c for c in bot_platform.telegram.called("answerCallbackQuery")
                                  if c.params["callback_query_id"] in _ids(bot_platform, card)]) >= 5)
    answers = [c.params.get("text") for c in bot_platform.telegram.called("answerCallbackQuery")
               if c.params["callback_query_id"] in _ids(bot_platform, card)]
    assert answers.count("Начато.") == 1 and answers.count("Завершено.") == 1
    assert {"Уже выполняю.", "Сейчас нельзя: занятие завершено."} & set(answers)

    got = await bot_platform.client.get(f"/api/v1/lessons/{lesson['id']}", headers=teacher.headers)
    assert got.json()["status"] == "completed" and got.json()["score"] == 100


def _ids(bot_platform, card) -> set[str]:
    """The callback query ids of the taps on `card`."""
    return {u["callback_query"]["id"] for u in bot_platform.telegram.delivered
            if "callback_query" in u and u["callback_query"]["message"]["message_id"] == card.message_id}


async def test_bad_input_gets_a_clear_answer(bot_platform):
    telegram = bot_platform.telegram
    stranger = Chat(telegram, 555_000_001)
    assert "Зарегистрируйтесь" in (await stranger.ask("привет", "не привязан")).text

    teacher, student = await teacher_and_student(bot_platform)
    await lesson_for(bot_platform, teacher, student)
    chat = await bot_platform.linked_chat(teacher)
    made = await bot_platform.client.post("/api/v1/users/me/telegram-link", headers=student.headers)
    token = made.json()["token"]
    await Chat(telegram, 555_000_002).ask(f"/start {token}", "привязан")
    await Chat(telegram, 555_000_003).ask(f"/start {token}", "Ссылка уже использована")

    old = await chat.ask("/schedule", "Занятия на неделе")     # taps below come as if from an older message
    telegram.tap_data(chat.chat_id, old, LessonCB(action=LessonAction.START, lesson_id=uuid.uuid4()).pack())
    await eventually(lambda: "Этого занятия больше нет." in telegram.answers())
    telegram.tap_data(chat.chat_id, old, "les:v0:expired")
    await eventually(lambda: "Эта кнопка устарела." in telegram.answers())

    card = await chat.ask("/today", "Математика: Дроби")
    chat.tap(card, "Отменить")
    question = await chat.reply("Почему занятие отменяется?")
    mark = telegram.last_id()
    telegram.send_photo(chat.chat_id, b"\x89PNG not a reason")
    await chat.reply("Напишите причину текстом", after=mark)
    assert "Отменено:" in (await chat.ask("Заболела", "Отменено:")).text
    chat.tap(card, "Начать")
    await eventually(lambda: "Сейчас нельзя: занятие отменено." in telegram.answers())
    await eventually(lambda: "отменено" in card.text and card.buttons == [])
    assert question.buttons and counted("repitbot_bot_updates_total", outcome="failed") == 0


async def test_russian_and_english_users_get_their_own_language(bot_platform):
    english = await bot_platform.account("student", "Emma Brown")
    changed = await bot_platform.client.patch(f"/api/v1/users/{english.id}", headers=english.headers,
                                              json={"locale": "en"})
    assert changed.status_code == 200, changed.text
    russian = await bot_platform.account("student", "Иван Петров")
    english_chat = await bot_platform.linked_chat(english, language="ru")     # the account decides
    russian_chat = await bot_platform.linked_chat(russian, language="en")

    assert "No lessons." in (await english_chat.ask("/schedule", "Lessons this week")).text
    assert "Занятий нет." in (await russian_chat.ask("/schedule", "Занятия на неделе")).text
    # a chat not linked speaks Telegram's language
    await Chat(bot_platform.telegram, 555_000_010, "en").ask("/start", "This chat is not linked")
    await Chat(bot_platform.telegram, 555_000_011, "de").ask("/start", "Этот чат ещё не привязан")


async def test_a_parent_links_by_invite_and_sees_the_childs_progress_and_lessons(bot_platform):
    teacher, student = await teacher_and_student(bot_platform)
    await lesson_for(bot_platform, teacher, student, title="Степени")
    student_chat = await bot_platform.linked_chat(student)
    invite = await student_chat.ask("/parent_invite", "родителю")
    code = invite.text.rsplit("start=", 1)[1]

    parent = await bot_platform.account("parent", "Ольга Смирнова")
    parent_chat = await bot_platform.linked_chat(parent)
    await parent_chat.ask(f"/start {code}", "Теперь вы связаны с ребёнком.")
    await settle(bot_platform.client)
    child = await parent_chat.ask("/children", "Анна Смирнова")
    assert "Уровень 1" in child.text and "Математика: Степени" in child.text


async def test_telegram_429_is_waited_out_and_a_blocked_bot_unlinks_the_chat(bot_platform):
    telegram = bot_platform.telegram
    student = await bot_platform.account("student")
    chat = await bot_platform.linked_chat(student)

    retries = counted("repitbot_bot_telegram_retries_total")
    telegram.refuse_next("sendMessage", 429, "Too Many Requests: retry after 1", parameters={"retry_after": 1})
    await chat.ask("/schedule", "Занятия на неделе")
    assert counted("repitbot_bot_telegram_retries_total") == retries + 1

    telegram.refuse_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    chat.say("/schedule")
    await eventually(lambda: counted("repitbot_bot_chats_unlinked_total", reason="blocked") >= 1)
    me = await bot_platform.client.get("/auth/me", headers=student.headers)
    assert me.json()["telegram_linked"] is False
    await chat.ask("/schedule", "не привязан")


async def test_logout_unlinks_the_chat_and_the_notifications_stop_going_there(bot_platform):
    student = await bot_platform.account("student")
    chat = await bot_platform.linked_chat(student)
    await settle(bot_platform.client)
    assert (await _contact(bot_platform, student.id)).telegram_chat_id == chat.chat_id
    await chat.ask("/logout", "Готово")
    assert (await bot_platform.client.get("/auth/me", headers=student.headers)).json()["telegram_linked"] is False
    await chat.ask("/progress", "не привязан")
    await settle(bot_platform.client)
    assert (await _contact(bot_platform, student.id)).telegram_chat_id is None


async def _contact(bot_platform, user_id: str) -> Contact:
    """The notification service's read model of the person."""
    notification = bot_platform.client.app.state.service_apps["notification"]
    async with notification.state.session_factory() as session:
        return await session.get(Contact, uuid.UUID(user_id))


async def test_a_student_reviews_three_cards_with_voice_and_rating_buttons(bot_platform):
    telegram = bot_platform.telegram
    teacher, student = await teacher_and_student(bot_platform)
    client = bot_platform.client
    deck = await client.post("/api/v1/decks", headers=teacher.headers,
                             json={"title": "Travel", "source_lang": "en", "target_lang": "ru"})
    assert deck.status_code == 201, deck.text
    deck_id = deck.json()["id"]
    words = {"airport": "аэропорт", "ticket": "билет", "luggage": "багаж"}
    for term, translation in words.items():
        made = await client.post(f"/api/v1/decks/{deck_id}/cards", headers=teacher.headers,
                                 json={"term": term, "translation": translation})
        assert made.status_code == 201, made.text
    shared = await client.post(f"/api/v1/decks/{deck_id}/share", headers=teacher.headers,
                               json={"student_ids": [student.id]})
    assert shared.status_code == 200, shared.text
    chat = await bot_platform.linked_chat(student)

    mark = telegram.last_id()
    chat.say("/words")
    for label in ("Хорошо", "Легко", "Трудно"):
        voice = await eventually(lambda mark=mark: next((m for m in telegram.sent_to(chat.chat_id)
                                                         if m.message_id > mark and m.kind == "voice"), None),
                                 timeout=30)
        term = voice.text
        mark = voice.message_id
        chat.tap(voice, "Показать ответ")
        answer = await chat.reply(f"{term} — {words[term]}", after=mark)
        mark = answer.message_id
        chat.tap(answer, label)
    await chat.reply("Сейчас нечего повторять", after=mark)
    assert all(c.files.get("voice") for c in telegram.called("sendVoice")
               if int(c.params["chat_id"]) == chat.chat_id)
    stats = await client.get(f"/api/v1/decks/{deck_id}/stats", headers=student.headers)
    assert stats.status_code == 200, stats.text
    counts = stats.json()
    assert counts["new"] == 0 and counts["learning"] + counts["review"] == 3     # three ratings recorded
    assert sum(day["reviews"] for day in counts["reviews_per_day"]) == 3


def _png() -> bytes:
    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


async def test_homework_assigned_submitted_with_a_photo_and_a_text_and_graded_in_chats(bot_platform):
    telegram = bot_platform.telegram
    teacher, student = await teacher_and_student(bot_platform)
    teacher_chat = await bot_platform.linked_chat(teacher)
    student_chat = await bot_platform.linked_chat(student)

    whom = await teacher_chat.ask("/assign", "Кому задание?")
    mark = telegram.last_id()
    teacher_chat.tap(whom, "Анна Смирнова")
    await teacher_chat.reply("Напишите задание", after=mark)
    due = await teacher_chat.ask("Упражнения 1-10", "К какому сроку?")
    teacher_chat.tap(due, "Завтра")
    await eventually(lambda: due.text.startswith("Задано: Упражнения 1-10"))

    card = await student_chat.ask("/homework", "Упражнения 1-10")
    mark = telegram.last_id()
    student_chat.tap(card, "Сдать")
    await student_chat.reply("Пришлите текст, фото и файлы", after=mark)
    photo = _png()
    mark = telegram.last_id()
    telegram.send_photo(student_chat.chat_id, photo)
    await student_chat.reply("файлов 1, текст: нет", after=mark)
    collected = await student_chat.ask("Ответ: x = 5", "файлов 1, текст: есть")
    mark = telegram.last_id()
    student_chat.tap(collected, "Отправить")
    await student_chat.reply("Сдано: Упражнения 1-10", after=mark)

    listed = await bot_platform.client.get("/api/v1/homework", headers=student.headers)
    homework_id = listed.json()["items"][0]["id"]
    detail = (await bot_platform.client.get(f"/api/v1/homework/{homework_id}", headers=teacher.headers)).json()
    assert detail["status"] == "submitted" and len(detail["submissions"]) == 1   # one submission holds both
    submission = detail["submissions"][0]
    assert submission["text"] == "Ответ: x = 5" and [f["content_type"] for f in submission["files"]] == ["image/png"]

    review = await teacher_chat.ask("/homework", "Упражнения 1-10")
    mark = telegram.last_id()
    teacher_chat.tap(review, "Проверить")
    await teacher_chat.reply("Ответ: x = 5", after=mark)
    grade = await teacher_chat.reply("Оценка за «Упражнения 1-10»?", after=mark)
    forwarded = [c for c in telegram.called("sendPhoto") if int(c.params["chat_id"]) == teacher_chat.chat_id]
    assert [c.files.get("photo") for c in forwarded] == [photo]                  # the student's photo, as sent
    teacher_chat.tap(grade, "90")
    await eventually(lambda: grade.text.startswith("Оценено: Упражнения 1-10, 90/100"))


async def test_a_parent_sees_the_childs_balance_and_gets_a_top_up_link(bot_platform):
    teacher, student = await teacher_and_student(bot_platform)
    parent = await bot_platform.account("parent", "Ольга Смирнова")
    invite = await bot_platform.client.post("/api/v1/students/me/parent-invites", headers=student.headers)
    accepted = await bot_platform.client.post(f"/api/v1/invites/{invite.json()['code']}/accept",
                                              headers=parent.headers)
    assert accepted.status_code == 200, accepted.text
    await settle(bot_platform.client)
    chat = await bot_platform.linked_chat(parent)
    balance = await chat.ask("/balance", "Анна Смирнова")
    assert "баланс" in balance.text
    mark = bot_platform.telegram.last_id()
    chat.tap(balance, "+1000")
    link = await chat.reply("Оплатить:", after=mark)
    assert "http" in link.text
