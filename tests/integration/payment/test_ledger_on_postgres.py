"""The ledger's invariants on real PostgreSQL, with two instances of the service on one database:
concurrent charges, payments and refunds on one account, duplicate deliveries of lesson events."""
from __future__ import annotations

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from services.payment.models import LedgerEntry, Payment
from shared.events import LessonCancelled, make_event
from tests.integration.payment.world import PaymentWorld, completed
from tests.support import Person, eventually, tapped

PAID, REFUND, PRICE = 10_000, 4_000, 1_500


async def manual_payment(world: PaymentWorld, client, teacher: Person, student: Person, amount: int):
    return await client.post("/api/v1/payments/manual", headers=teacher.headers, json={
        "student_id": str(student.id), "amount": {"amount": amount, "currency": "RUB"}})


async def pending_top_ups(world: PaymentWorld, student: Person, count: int) -> list[dict[str, str]]:
    """`count` pending demo top-ups of PAID, as the form their confirmation page would post."""
    forms = []
    for _ in range(count):
        created = await world.client.post("/api/v1/payments/top-ups", headers=student.headers, json={
            "amount": {"amount": PAID, "currency": "RUB"}, "provider": "demo"})
        assert created.status_code == 201, created.text
        payment_id = uuid.UUID(created.json()["id"])
        forms.append({"payment_id": str(payment_id),
                      "signature": world.app.state.deps.providers.demo.token(payment_id)})
    return forms


async def test_200_concurrent_operations_from_two_instances_keep_balance_equal_to_the_ledger(pair: PaymentWorld):
    world, clients = pair, [pair.client, *pair.others]
    teacher, student, _ = await world.family()
    paid_first = [await manual_payment(world, clients[i % 2], teacher, student, PAID) for i in range(20)]
    assert {r.status_code for r in paid_first} == {201}
    forms = await pending_top_ups(world, student, 10)

    lessons = [uuid.uuid4() for _ in range(40)]
    charge_events = [make_event(completed(teacher, student, PRICE, lesson_id=lesson), producer="lesson")
                     for lesson in lessons]
    # every event twice, and another event about each of 20 lessons: 100 deliveries, 40 charges
    deliveries = charge_events * 2 + [make_event(completed(teacher, student, PRICE, lesson_id=lesson),
                                                 producer="lesson") for lesson in lessons[:20]]
    random.Random(7).shuffle(deliveries)
    refunds = [clients[i % 2].post(f"/api/v1/payments/{p.json()['id']}/refund", json={"amount": REFUND},
                                   headers=teacher.headers)
               for i, p in enumerate(paid_first) for _ in range(3)]          # 60: two of each three fit
    webhooks = [client.post("/api/v1/payments/webhooks/demo", data=form)    # 20: each to both instances
                for form in forms for client in clients]
    payments = [manual_payment(world, clients[i % 2], teacher, student, PAID) for i in range(20)]
    answers = await asyncio.gather(world.publish(*deliveries), *refunds, *webhooks, *payments)

    assert sorted(r.status_code for r in answers[1:61]) == [200] * 40 + [409] * 20
    assert sorted(r.json()["status"] for r in answers[61:81]) == ["already_done"] * 10 + ["completed"] * 10
    assert {r.status_code for r in answers[81:]} == {201}

    expected = PAID * (20 + 10 + 20) - REFUND * 40 - PRICE * 40

    async def all_charged() -> bool:
        async with world.app.state.session_factory() as session:
            return await session.scalar(select(func.count()).select_from(LedgerEntry).where(
                LedgerEntry.student_id == student.id, LedgerEntry.kind == "lesson_charge")) == 40
    await eventually(all_charged, timeout=60)
    stored, summed, count = await world.ledger(student.id)
    assert (stored, summed, count) == (expected, expected, 50 + 40 + 40)
    async with world.app.state.session_factory() as session:
        refunded = list(await session.scalars(select(Payment.refunded).where(Payment.student_id == student.id)))
    assert sorted(refunded) == [0] * 30 + [2 * REFUND] * 20


async def test_a_late_cancellation_by_the_student_is_charged_by_the_teachers_policy(world: PaymentWorld):
    teacher, student, _ = await world.family()
    policy = await world.client.put("/api/v1/payments/policy", headers=teacher.headers,
                                    json={"late_cancel_percent": 50, "late_cancel_hours": 24})
    assert policy.status_code == 200, policy.text
    now = datetime.now(UTC)

    def cancelled(by: Person, role: str, hours_before: int) -> LessonCancelled:
        return LessonCancelled(lesson_id=uuid.uuid4(), teacher_id=teacher.id, student_id=student.id,
                               cancelled_by=by.id, reason="ill", starts_at=now + timedelta(hours=hours_before),
                               cancelled_at=now, cancelled_by_role=role, price=3_001, currency="RUB")
    late = cancelled(student, "student", 3)
    await world.tell(cancelled(teacher, "teacher", 3), cancelled(student, "student", 48), late, late,
                     producer="lesson")
    await world.tell(completed(teacher, student, PRICE), producer="lesson")   # the last one: a positive signal
    await world.wait_for(LedgerEntry, student_id=student.id, kind="lesson_charge")
    async with world.app.state.session_factory() as session:
        charges = list(await session.scalars(select(LedgerEntry.amount).where(
            LedgerEntry.student_id == student.id, LedgerEntry.kind == "late_cancel_charge")))
    assert charges == [-1_501]   # half of 30.01, rounded half up; once for the lesson cancelled twice


async def test_a_low_balance_is_announced_once_per_crossing(world: PaymentWorld, servers):
    teacher, student, _ = await world.family()
    await world.client.put("/api/v1/payments/policy", headers=teacher.headers, json={"low_balance_threshold": 2_000})
    async with tapped(servers.rabbitmq_url, "balance.updated") as tap:
        await manual_payment(world, world.client, teacher, student, 5_000)          # 5000: fine
        for _ in range(3):                                                          # 3500, 2000, 500
            await world.tell(completed(teacher, student, PRICE), producer="lesson")
        await tap.wait_for("balance.updated", count=4, student_id=student.id, timeout=20)
        await manual_payment(world, world.client, teacher, student, 5_000)          # 5500: fine again
        await world.tell(completed(teacher, student, 4_000), producer="lesson")     # 1500: low again
        events = await tap.wait_for("balance.updated", count=6, student_id=student.id, timeout=20)
    crossings = [(e.payload["balance"], e.payload["low_balance"], e.payload["low_balance_crossed"]) for e in events]
    assert crossings == [(5_000, False, False), (3_500, False, False), (2_000, False, False),  # not under 2000
                         (500, True, True), (5_500, False, False), (1_500, True, True)]


async def test_everyone_sees_only_their_own_money(world: PaymentWorld):
    teacher, student, parent = await world.family()
    await manual_payment(world, world.client, teacher, student, 7_000)
    await world.tell(completed(teacher, student, 9_000), producer="lesson")
    await world.wait_for(LedgerEntry, student_id=student.id, kind="lesson_charge")
    outsiders = [world.person("student"), world.person("parent"), world.person("teacher")]
    for who in outsiders:
        for path in ("/api/v1/payments/balance", "/api/v1/payments/transactions", "/api/v1/payments/transactions.csv"):
            response = await world.client.get(path, params={"student_id": str(student.id)}, headers=who.headers)
            assert response.status_code == 404, (who.role, path, response.text)
        listed = await world.client.get("/api/v1/payments/accounts", headers=who.headers)
        assert listed.json()["items"] == []
    for who in (student, parent, teacher):
        seen = await world.client.get("/api/v1/payments/balance", params={"student_id": str(student.id)},
                                      headers=who.headers)
        assert seen.json()["balance"] == {"amount": -2_000, "currency": "RUB"}
    debts = await world.client.get("/api/v1/payments/accounts", params={"debts": "true"}, headers=teacher.headers)
    [debt] = debts.json()["items"]
    assert (debt["student_name"], debt["debt"]) == ("Student Test", 2_000)

    charges = await world.client.get("/api/v1/payments/transactions", headers=teacher.headers,
                                     params={"student_id": str(student.id), "kind": "lesson_charge"})
    assert [t["amount"]["amount"] for t in charges.json()["items"]] == [-9_000]
    csv_file = await world.client.get("/api/v1/payments/transactions.csv", headers=teacher.headers)
    assert csv_file.headers["content-type"].startswith("text/csv")
    lines = csv_file.text.strip().splitlines()
    assert lines[0].startswith("created_at,kind,amount") and len(lines) == 3
    income = await world.client.get("/api/v1/payments/income", headers=teacher.headers)
    [month] = income.json()["months"]
    assert (month["received"], month["charged"], month["net"]) == (7_000, 9_000, 7_000)
