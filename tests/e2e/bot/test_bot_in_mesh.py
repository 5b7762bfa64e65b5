"""The bot as its own process (`repitbot serve bot`) in mesh mode, beside the shared mesh: it reaches
the gateway over HTTP, keeps chats, update ids and dialogues in the real Redis, and polls the fake
Bot API."""
from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from tests.e2e.bot.conftest import Chat
from tests.e2e.bot.test_bot_flows import noon_zone
from tests.e2e.conftest import link, register_and_login
from tests.mesh import ROOT
from tests.support import eventually
from tests.telegram_fake import FakeTelegram


async def test_a_chat_links_and_a_teacher_completes_a_lesson_through_the_bot_in_mesh(shared_mesh, tmp_path):
    telegram, gateway = shared_mesh.telegram, shared_mesh.gateway
    log = tmp_path / "bot.log"
    with open(log, "ab") as out:
        bot = subprocess.Popen([sys.executable, "-m", "repitbot.cli", "serve", "bot"], cwd=ROOT,
                               env={**shared_mesh.mesh.base_env(), "BOT_GATEWAY_URL": gateway.url,
                                    "VAR_DIR": str(tmp_path / "var")},
                               stdout=out, stderr=subprocess.STDOUT)
    try:
        await _flow(telegram, gateway.url)
    except BaseException:
        sys.stderr.write(log.read_text() + "\n" + telegram.transcript())
        raise
    finally:
        bot.terminate()
        bot.wait(timeout=20)


async def _flow(telegram: FakeTelegram, gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0, trust_env=False) as client:
        zone = noon_zone()
        teacher = await register_and_login(client, "teacher", full_name="Мария Иванова", timezone=zone)
        student = await register_and_login(client, "student", full_name="Анна Смирнова", timezone=zone)
        await link(client, teacher, student)
        made = await client.post("/api/v1/lessons", headers=teacher.headers, json={
            "student_id": student.id, "subject": "Математика", "title": "Дроби", "duration_minutes": 45,
            "starts_at": (datetime.now(UTC) + timedelta(minutes=5)).isoformat()})
        assert made.status_code == 201, made.text
        await eventually(lambda: telegram.called("getUpdates"), timeout=60)   # the bot is up

        chats = []
        for number, account in enumerate((student, teacher)):
            token = (await client.post("/api/v1/users/me/telegram-link", headers=account.headers)).json()["token"]
            chat = Chat(telegram, 700_000_000 + number)
            await chat.ask(f"/start {token}", "/logout")
            chats.append(chat)
        student_chat, teacher_chat = chats
        assert "Математика: Дроби (45 мин)" in (await student_chat.ask("/schedule", "Занятия на неделе")).text

        card = await teacher_chat.ask("/today", "Математика: Дроби")
        start = teacher_chat.tap(card, "Начать")
        telegram.push(start)                                   # delivered twice: handled once
        await eventually(lambda: "идёт" in card.text)
        for label, then in (("Завершить", "80"), ("80", "Был"), ("Был", None)):
            teacher_chat.tap(card, label)
            await eventually(lambda then=then: then is None or any(b["text"] == then for r in card.buttons for b in r))
        await eventually(lambda: "завершено · оценка 80" in card.text)
        starts = [c for c in telegram.called("answerCallbackQuery")
                  if c.params["callback_query_id"] == start["callback_query"]["id"]]
        assert len(starts) == 1

        lesson = await client.get(f"/api/v1/lessons/{made.json()['id']}", headers=teacher.headers)
        assert lesson.json()["status"] == "completed" and lesson.json()["score"] == 80
