"""The same service in the embedded shape: SQLite, the in-process bus. Migrations apply there,
and the dispatcher's claims (one process, `BEGIN IMMEDIATE`) deliver reminders once."""
import uuid
from datetime import timedelta

from fakeredis import FakeAsyncRedis

from services.notification.app import create_app
from services.notification.dispatcher import dispatch_due
from services.notification.models import Notification
from services.notification.settings import NotificationSettings
from shared.bus import InMemoryBus
from shared.events import LessonScheduled, TelegramLinked, UserCreated, make_event
from shared.runtime import Runtime
from tests.integration.notification.world import BOT_TOKEN, World
from tests.support import TestKeys, running


async def test_on_sqlite_a_reminder_is_delivered_once_on_every_channel(tmp_path, smtp, bot, clock):
    settings = NotificationSettings(var_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp.port,
                                    smtp_start_tls=False, bot_token=BOT_TOKEN, telegram_api_base=bot.url,
                                    dispatch_interval_seconds=3600)
    assert settings.database_url_for("notification").startswith("sqlite")
    bus, keys = InMemoryBus(), TestKeys()
    app = create_app(settings, Runtime(bus=bus, redis=FakeAsyncRedis(), key_source=keys), clock=clock)
    async with running(app) as client:
        world = World(client, app, keys, bus, smtp, bot, clock)  # type: ignore[arg-type]
        student = world.person()
        await bus.publish([make_event(p, producer="test") for p in (
            UserCreated(user_id=student.id, role="student", full_name="Ivan", email=student.email, locale="en"),
            TelegramLinked(user_id=student.id, telegram_chat_id=student.chat_id),
            LessonScheduled(lesson_id=uuid.uuid4(), teacher_id=uuid.uuid4(), student_id=student.id,
                            subject="Maths", starts_at=clock() + timedelta(hours=2), duration_minutes=60))])
        await bus.drain()

        start = clock()
        for minutes in (30, 61, 62, 90):
            await dispatch_due(app, start + timedelta(minutes=minutes))
        assert len(await world.rows(Notification, user_id=student.id, kind="lesson_reminder")) == 1
        assert smtp.to(student.email)[0]["Subject"].startswith("Reminder: Maths")
        assert len(smtp.to(student.email)) == 1 and len(bot.to(student.chat_id)) == 1
        inbox = await world.inbox(student)
        assert [i["kind"] for i in inbox] == ["lesson_reminder"]
    await bus.close()
