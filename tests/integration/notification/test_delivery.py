"""Events on real RabbitMQ become in-app notifications, e-mails received by a real SMTP server
and `sendMessage` calls received by a fake Bot API; failures are retried, then recorded."""
import json
import ssl
from datetime import timedelta

import aio_pika
from sqlalchemy import update

from services.notification.dispatcher import dispatch_due
from services.notification.domain import QuietHours, zone
from services.notification.models import Contact, Delivery
from shared.events import EXCHANGE, AchievementEarned, StudentLevelUp, TelegramLinked, UserCreated
from tests.integration.notification.world import (
    BOT_TOKEN,
    SmtpServer,
    World,
    counted,
    free_port,
    self_signed_certificate,
)
from tests.support import consumed, eventually


def achievement(student, world: World, title: str = "First steps") -> AchievementEarned:
    return AchievementEarned(student_id=student.id, code="first_lesson", title=title, tier="rare",
                             earned_at=world.clock())


def level_up(student) -> StudentLevelUp:
    return StudentLevelUp(student_id=student.id, old_level=2, new_level=3, xp=450)


async def test_an_achievement_reaches_the_inbox_email_and_telegram_once_in_the_users_language(start, smtp, bot):
    async with start(dispatch_interval_seconds=0.05) as world:
        english, russian = await world.known(locale="en"), await world.known(locale="ru")
        [event] = await world.publish(achievement(english, world), producer="student")
        await world.publish(achievement(russian, world), producer="student")

        async def all_arrived() -> bool:
            return all(len(smtp.to(p.email)) == 1 and len(bot.to(p.chat_id)) == 1 for p in (english, russian))
        await eventually(all_arrived)

        [item] = await world.inbox(english)
        assert item["kind"] == "achievement_earned" and item["title"] == "New achievement: First steps"
        assert item["read"] is False and "rare achievement" in item["body"]
        [mail] = smtp.to(english.email)
        assert mail["Subject"] == "New achievement: First steps" and mail["To"] == english.email
        assert "Well done" in mail.get_body(("plain",)).get_content()
        assert "<strong>First steps</strong>" in mail.get_body(("html",)).get_content()
        [call] = bot.to(english.chat_id)
        assert call["token"] == BOT_TOKEN and call["text"].startswith("New achievement: First steps")
        assert smtp.to(russian.email)[0]["Subject"] == "Новое достижение: First steps"
        assert bot.to(russian.chat_id)[0]["text"].startswith("Новое достижение")
        assert (await world.inbox(russian))[0]["title"] == "Новое достижение: First steps"

        duplicates = consumed("notification", "achievement.earned", "duplicate")
        await world.bus.publish([event])  # the same event delivered again

        async def skipped_as_duplicate() -> bool:
            return consumed("notification", "achievement.earned", "duplicate") > duplicates
        await eventually(skipped_as_duplicate)
        await dispatch_due(world.app, world.clock())
        assert len(await world.inbox(english)) == 1
        assert len(smtp.to(english.email)) == 1 and len(bot.to(english.chat_id)) == 1
        sent = await world.deliveries(english, "achievement_earned")
        assert {c: (d.status, d.attempts) for c, d in sent.items()} == {"email": ("sent", 1), "telegram": ("sent", 1)}


async def test_with_the_smtp_server_down_email_is_retried_then_failed_while_the_other_channels_deliver(
        start, bot, clock):
    async with start(smtp_port=free_port()) as world:  # nothing listens on that port
        student = await world.known(locale="ru")
        retried, failed = counted("retried", "email", "level_up"), counted("failed", "email", "level_up")
        await world.publish(level_up(student), producer="student")
        await world.notification(student, "level_up")

        await dispatch_due(world.app, clock())
        deliveries = await world.deliveries(student, "level_up")
        assert deliveries["telegram"].status == "sent" and len(bot.to(student.chat_id)) == 1
        email = deliveries["email"]
        assert (email.status, email.attempts) == ("pending", 1)
        assert email.last_error.startswith("SMTP server unreachable")
        assert email.due_at == clock() + timedelta(seconds=60)

        await dispatch_due(world.app, clock.advance(seconds=30))  # not due yet: no attempt
        assert (await world.deliveries(student, "level_up"))["email"].attempts == 1
        await dispatch_due(world.app, clock.advance(seconds=30))
        assert (await world.deliveries(student, "level_up"))["email"].attempts == 2
        await dispatch_due(world.app, clock.advance(seconds=120))
        email = (await world.deliveries(student, "level_up"))["email"]
        assert (email.status, email.attempts) == ("failed", 3)
        assert "SMTP server unreachable" in email.last_error
        assert counted("retried", "email", "level_up") == retried + 2
        assert counted("failed", "email", "level_up") == failed + 1

        await dispatch_due(world.app, clock.advance(hours=2))  # failed for good: no more tries
        assert (await world.deliveries(student, "level_up"))["email"].attempts == 3
        assert [n["kind"] for n in await world.inbox(student)] == ["level_up"]
        assert len(bot.to(student.chat_id)) == 1

        admin = world.keys.headers(world.person("admin").id, "admin")
        listed = await world.client.get("/api/v1/notifications/deliveries",
                                        params={"status": "failed", "channel": "email"}, headers=admin)
        assert listed.status_code == 200
        [shown] = [d for d in listed.json()["items"] if d["user_id"] == str(student.id)]
        assert shown["kind"] == "level_up" and shown["attempts"] == 3
        assert shown["last_error"].startswith("SMTP server unreachable")


async def test_telegram_refusing_a_blocked_user_fails_at_once_and_a_rate_limit_waits_as_asked(world, bot, clock):
    blocked, busy = await world.known(), await world.known()
    bot.replies[blocked.chat_id] = (403, {"ok": False, "error_code": 403,
                                          "description": "Forbidden: bot was blocked by the user"})
    bot.replies[busy.chat_id] = (429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
                                       "parameters": {"retry_after": 300}})
    await world.publish(level_up(blocked), level_up(busy), producer="student")
    await world.notification(blocked, "level_up")
    await world.notification(busy, "level_up")

    await dispatch_due(world.app, clock())
    refused = (await world.deliveries(blocked, "level_up"))["telegram"]
    assert (refused.status, refused.attempts) == ("failed", 1)
    assert refused.last_error == "Telegram error 403: Forbidden: bot was blocked by the user"
    limited = (await world.deliveries(busy, "level_up"))["telegram"]
    assert limited.status == "pending" and limited.due_at == clock() + timedelta(seconds=300)
    assert BOT_TOKEN not in refused.last_error + limited.last_error
    assert len(world.smtp.to(blocked.email)) == 1  # e-mail is not held up by Telegram

    del bot.replies[busy.chat_id]
    await dispatch_due(world.app, clock.advance(seconds=300))
    assert (await world.deliveries(busy, "level_up"))["telegram"].status == "sent"


async def test_quiet_hours_hold_email_and_telegram_until_they_end_but_not_the_inbox(world, smtp, bot, clock):
    student = await world.known(timezone="Asia/Tokyo")
    local = clock().astimezone(zone("Asia/Tokyo"))
    quiet = {"start": (local - timedelta(hours=1)).strftime("%H:%M"),
             "end": (local + timedelta(hours=2)).strftime("%H:%M")}
    saved = await world.client.put("/api/v1/notifications/preferences", headers=student.headers,
                                   json={"quiet_hours": quiet})
    assert saved.status_code == 200 and saved.json()["quiet_hours"] == quiet
    await world.publish(level_up(student), producer="student")
    await world.notification(student, "level_up")

    await dispatch_due(world.app, clock())
    morning = QuietHours.parse(quiet["start"], quiet["end"]).release(clock(), zone("Asia/Tokyo"))
    held = await world.deliveries(student, "level_up")
    assert {c: (d.status, d.due_at) for c, d in held.items()} == {
        "email": ("pending", morning), "telegram": ("pending", morning)}
    assert not smtp.to(student.email) and not bot.to(student.chat_id)
    assert len(await world.inbox(student)) == 1

    clock.now = morning
    await dispatch_due(world.app, clock())
    assert len(smtp.to(student.email)) == 1 and len(bot.to(student.chat_id)) == 1


async def test_a_channel_switched_off_for_a_kind_gets_nothing_of_that_kind(world, smtp, bot, clock):
    student = await world.known()
    saved = await world.client.put("/api/v1/notifications/preferences", headers=student.headers,
                                   json={"channels": {"level_up": {"email": False}}})
    assert saved.json()["channels"]["level_up"] == {"email": False, "telegram": True}
    await world.publish(level_up(student), achievement(student, world), producer="student")
    await world.notification(student, "level_up")
    await world.notification(student, "achievement_earned")

    await dispatch_due(world.app, clock())
    assert set(await world.deliveries(student, "level_up")) == {"telegram"}
    assert [m["Subject"] for m in smtp.to(student.email)] == ["New achievement: First steps"]
    assert len(bot.to(student.chat_id)) == 2


async def test_news_for_someone_not_yet_known_waits_in_the_inbox_and_email_follows_their_account(
        world, smtp, bot, clock):
    newcomer = world.person()
    await world.publish(achievement(newcomer, world), producer="student")
    item = await world.notification(newcomer, "achievement_earned")
    assert item.title == "Новое достижение: First steps"  # no locale known yet: the default

    await dispatch_due(world.app, clock())
    waiting = await world.deliveries(newcomer, "achievement_earned")
    assert {(d.status, d.last_error) for d in waiting.values()} == {("pending", "the recipient is not known yet")}

    await world.publish(UserCreated(user_id=newcomer.id, role="student", full_name="New", email=newcomer.email,
                                    locale="en"),
                        TelegramLinked(user_id=newcomer.id, telegram_chat_id=newcomer.chat_id), producer="user")
    await eventually(lambda: _contact_ready(world, newcomer))
    await dispatch_due(world.app, clock.advance(seconds=60))
    assert smtp.to(newcomer.email)[0]["Subject"] == "New achievement: First steps"
    assert len(bot.to(newcomer.chat_id)) == 1


async def _contact_ready(world: World, person) -> bool:
    return bool(await world.rows(Contact, id=person.id, telegram_chat_id=person.chat_id))


async def test_a_delivery_left_sending_by_a_crashed_instance_is_sent_when_its_lease_runs_out(world, bot, clock):
    student = await world.known()
    await world.publish(level_up(student), producer="student")
    await world.notification(student, "level_up")
    async with world.app.state.session_factory() as session, session.begin():
        await session.execute(update(Delivery).where(Delivery.user_id == student.id).values(
            status="sending", attempts=1, lease_until=clock() + timedelta(seconds=30)))

    await dispatch_due(world.app, clock.advance(seconds=10))
    assert not bot.to(student.chat_id)  # still leased to the instance that crashed
    await dispatch_due(world.app, clock.advance(seconds=21))
    assert len(bot.to(student.chat_id)) == 1
    deliveries = await world.deliveries(student, "level_up")
    assert {(d.status, d.attempts) for d in deliveries.values()} == {("sent", 2)}


async def test_each_delivery_is_announced_as_notification_sent(world, servers, clock):
    connection = await aio_pika.connect_robust(servers.rabbitmq_url)
    try:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="notification.sent")
        student = await world.known()
        await world.publish(level_up(student), producer="student")
        notification = await world.notification(student, "level_up")
        await dispatch_due(world.app, clock())

        announced: list[dict] = []

        async def all_announced() -> bool:
            while (message := await queue.get(no_ack=True, fail=False)) is not None:
                announced.append(json.loads(message.body)["payload"])
            mine = [p for p in announced if p["notification_id"] == str(notification.id)]
            return sorted(p["channel"] for p in mine) == ["email", "in_app", "telegram"]
        await eventually(all_announced)
        assert all(p["user_id"] == str(student.id) and p["kind"] == "level_up"
                   for p in announced if p["notification_id"] == str(notification.id))
    finally:
        await connection.close()


async def test_email_goes_over_starttls_with_the_configured_login(start, tmp_path, clock):
    certificate, key = self_signed_certificate(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(certificate, key)
    relay = SmtpServer(tls=tls, login=("repitbot", "s3cret"))
    relay.start()
    try:
        common = dict(smtp_port=relay.port, smtp_start_tls=True, smtp_ca_file=str(certificate),
                      smtp_username="repitbot")
        async with start(**common, smtp_password="wrong") as world:
            student = await world.known()
            await world.publish(level_up(student), producer="student")
            await world.notification(student, "level_up")
            await dispatch_due(world.app, clock())
            email = (await world.deliveries(student, "level_up"))["email"]
            assert email.status == "pending" and email.last_error.startswith("SMTP authentication failed")
        async with start(**common, smtp_password="s3cret") as world:
            await dispatch_due(world.app, clock.advance(minutes=5))
            assert (await world.deliveries(student, "level_up"))["email"].status == "sent"
            [mail] = relay.to(student.email)
            assert mail["Subject"] == "Level 3 reached!"
    finally:
        relay.stop()
