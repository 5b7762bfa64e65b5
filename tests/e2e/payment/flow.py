"""The flow both payment end-to-end tests run through the gateway: a parent tops up 5,000.00 RUB
through (a fake of) YooKassa, three priced lessons are charged, the teacher refunds part of the
payment; the ledger sums to the balance at every step, the student earns the payment's XP and
the family and the teacher are told."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import httpx

from tests.e2e.conftest import Account, link, register_and_login
from tests.payment_fakes import FakeYooKassa
from tests.support import eventually

MOSCOW = ZoneInfo("Europe/Moscow")
PRICE = 150_000
Wait = Callable[[Callable[[], Awaitable[object]]], Awaitable[object]]


async def family(client: httpx.AsyncClient) -> tuple[Account, Account, Account]:
    teacher = await register_and_login(client, "teacher", full_name="Anna Teacher")
    student = await register_and_login(client, "student", full_name="Ivan Student")
    parent = await register_and_login(client, "parent", full_name="Pavel Parent")
    await link(client, teacher, student)
    invite = await client.post("/api/v1/students/me/parent-invites", headers=student.headers)
    assert invite.status_code in (200, 201), invite.text
    accepted = await client.post(f"/api/v1/invites/{invite.json()['code']}/accept", headers=parent.headers)
    assert accepted.status_code in (200, 201), accepted.text
    return teacher, student, parent


async def ledger_matches(client: httpx.AsyncClient, who: Account, student: Account) -> int:
    """The balance, once checked against the sum of every ledger entry of the student."""
    balance = await client.get("/api/v1/payments/balance", params={"student_id": student.id}, headers=who.headers)
    assert balance.status_code == 200, balance.text
    entries = await client.get("/api/v1/payments/transactions", headers=who.headers,
                               params={"student_id": student.id, "limit": 200})
    amount = balance.json()["balance"]["amount"]
    assert amount == sum(e["amount"]["amount"] for e in entries.json()["items"])
    return amount


async def top_up_through_yookassa(client: httpx.AsyncClient, yookassa: FakeYooKassa, parent: Account,
                                  student: Account, teacher: Account) -> dict:
    created = await client.post("/api/v1/payments/top-ups", headers={**parent.headers, "Idempotency-Key": "e2e-1"},
                                json={"amount": {"amount": 500_000, "currency": "RUB"}, "provider": "yookassa",
                                      "student_id": student.id, "teacher_id": teacher.id})
    assert created.status_code == 201, created.text
    payment = created.json()
    remote = payment["confirmation_url"].rsplit("/", 1)[1]
    yookassa.confirm(remote)                                   # the parent paid at YooKassa
    notified = await client.post("/api/v1/payments/webhooks/yookassa", json=yookassa.notification(remote))
    assert notified.json() == {"status": "completed"}, notified.text
    return payment


async def complete_priced_lessons(client: httpx.AsyncClient, teacher: Account, student: Account, count: int) -> None:
    day = datetime.now(MOSCOW).date() + timedelta(days=2)
    for i in range(count):
        booked = await client.post("/api/v1/lessons", headers=teacher.headers, json={
            "student_id": student.id, "subject": "Maths", "title": f"Lesson {i + 1}",
            "starts_at": datetime.combine(day, time(10 + 2 * i), MOSCOW).isoformat(), "duration_minutes": 60,
            "price": {"amount": PRICE, "currency": "RUB"}})
        assert booked.status_code == 201, booked.text
        url = f"/api/v1/lessons/{booked.json()['id']}"
        assert (await client.post(f"{url}/start", headers=teacher.headers)).status_code == 200
        assert (await client.post(f"{url}/complete", headers=teacher.headers, json={"score": 80})).status_code == 200


async def the_flow(client: httpx.AsyncClient, yookassa: FakeYooKassa, wait: Wait) -> None:
    teacher, student, parent = await family(client)
    payment = await top_up_through_yookassa(client, yookassa, parent, student, teacher)
    assert await ledger_matches(client, parent, student) == 500_000

    await complete_priced_lessons(client, teacher, student, 3)

    async def charged() -> bool:
        return await ledger_matches(client, teacher, student) == 500_000 - 3 * PRICE
    await wait(charged)

    refunded = await client.post(f"/api/v1/payments/{payment['id']}/refund", json={"amount": 20_000},
                                 headers={**teacher.headers, "Idempotency-Key": "refund-1"})
    assert refunded.status_code == 200 and refunded.json()["refunded"] == 20_000, refunded.text
    assert yookassa.refunds[-1]["amount"] == {"value": "200.00", "currency": "RUB"}
    assert await ledger_matches(client, student, student) == 30_000
    kinds = await client.get("/api/v1/payments/transactions", params={"student_id": student.id},
                             headers=parent.headers)
    assert [t["kind"] for t in kinds.json()["items"]][::-1] == ["top_up"] + ["lesson_charge"] * 3 + ["refund"]

    async def paid_xp() -> bool:
        history = await client.get(f"/api/v1/students/{student.id}/xp-history", headers=student.headers)
        return history.status_code == 200 and any(
            e["source"].startswith("payment") and e["amount"] == 500 for e in history.json()["items"])
    await wait(paid_xp)

    async def told() -> bool:
        parent_kinds = await _kinds(client, parent)
        return {"payment_completed", "payment_refunded", "low_balance"} <= parent_kinds \
            and "low_balance" in await _kinds(client, teacher)
    await wait(told)


async def _kinds(client: httpx.AsyncClient, who: Account) -> set[str]:
    inbox = await client.get("/api/v1/notifications", headers=who.headers)
    return {n["kind"] for n in inbox.json()["items"]}


def polling(timeout: float) -> Wait:
    async def wait(check: Callable[[], Awaitable[object]]) -> object:
        return await eventually(check, timeout=timeout, interval=0.2)
    return wait
