"""No transaction is open while a payment provider works: a slow provider holds no lock and no
writer (PostgreSQL, and SQLite where every transaction is `BEGIN IMMEDIATE`), refunds in flight
count against what is left of a payment, and what a crash left between the provider's answer and
its record is settled once by the recovery loop. The providers are the local fakes, held at
their `Gate` to be slow."""
from __future__ import annotations

import asyncio
import uuid

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.payment.models import LedgerEntry, Payment, Refund
from tests.integration.payment.world import PaymentWorld
from tests.payment_fakes import FakeStripe, FakeYooKassa, stripe_signature
from tests.support import Person, eventually, tapped

TOP_UPS, WEBHOOK = "/api/v1/payments/top-ups", "/api/v1/payments/webhooks/{}"


async def stored(world: PaymentWorld, payment_id: str) -> Payment:
    async with world.app.state.session_factory() as session:
        return await session.get(Payment, uuid.UUID(payment_id))


async def paid_by_stripe(world: PaymentWorld, stripe_api: FakeStripe, student: Person, amount: int) -> tuple[str, str]:
    """A completed Stripe top-up: its id here and its Checkout Session's id."""
    created = await world.client.post(TOP_UPS, headers=student.headers, json={
        "amount": {"amount": amount, "currency": "RUB"}, "provider": "stripe"})
    assert created.status_code == 201, created.text
    payment_id = created.json()["id"]
    session_id = (await stored(world, payment_id)).provider_payment_id
    stripe_api.pay(session_id)
    body = stripe_api.event(session_id)
    paid = await world.client.post(WEBHOOK.format("stripe"), content=body,
                                   headers={"Stripe-Signature": stripe_signature(body)})
    assert paid.json() == {"status": "completed"}
    return payment_id, session_id


def refunds_at_stripe(stripe_api: FakeStripe, session_id: str) -> list[int]:
    intent = stripe_api.sessions[session_id]["payment_intent"]
    return [r["amount"] for r in stripe_api.refunds if r["payment_intent"] == intent]


async def test_a_slow_provider_holds_no_transaction_and_other_writes_go_on(
        either: PaymentWorld, yookassa: FakeYooKassa, stripe_api: FakeStripe):
    world = either
    teacher, student, _ = await world.family()
    other_teacher, other_student, _ = await world.family()
    payment_id, session_id = await paid_by_stripe(world, stripe_api, student, 10_000)
    refund_url = f"/api/v1/payments/{payment_id}/refund"
    yookassa.gate.close()
    stripe_api.gate.close()
    try:
        top_up = asyncio.create_task(world.client.post(TOP_UPS, headers=student.headers, json={
            "amount": {"amount": 5_000, "currency": "RUB"}, "provider": "yookassa"}))
        refund = asyncio.create_task(world.client.post(refund_url, json={"amount": 6_000}, headers=teacher.headers))
        await eventually(lambda: yookassa.gate.waiting == 1 and stripe_api.gate.waiting == 1, timeout=15)

        # both provider calls are in progress: other writes, and reads of that payment, are answered
        manual = await world.client.post("/api/v1/payments/manual", headers=other_teacher.headers, json={
            "student_id": str(other_student.id), "amount": {"amount": 3_000, "currency": "RUB"}})
        correction = await world.client.post("/api/v1/payments/corrections",
                                             headers=world.keys.headers(uuid.uuid4(), "admin"), json={
            "student_id": str(other_student.id), "teacher_id": str(other_teacher.id), "amount": -500,
            "currency": "RUB", "reason": "a lesson paid twice"})
        too_much = await world.client.post(refund_url, json={"amount": 4_001}, headers=teacher.headers)
        seen = await world.client.get(f"/api/v1/payments/{payment_id}", headers=teacher.headers)
        assert (manual.status_code, correction.status_code) == (201, 201), (manual.text, correction.text)
        assert too_much.status_code == 409 and "At most 4000" in too_much.json()["detail"]
        assert (seen.json()["status"], seen.json()["refunded"]) == ("completed", 0)
        assert not top_up.done() and not refund.done()   # still held at their providers
    finally:
        yookassa.gate.open()
        stripe_api.gate.open()

    created, refunded = await top_up, await refund
    assert created.status_code == 201 and created.json()["confirmation_url"].startswith(yookassa.url)
    assert refunded.status_code == 200 and refunded.json()["refunded"] == 6_000
    assert refunds_at_stripe(stripe_api, session_id) == [6_000]
    assert await world.ledger(student.id) == (4_000, 4_000, 2)          # the top-up waits for its webhook
    assert await world.ledger(other_student.id) == (2_500, 2_500, 2)


async def test_refunds_in_flight_count_against_what_is_left(world: PaymentWorld, stripe_api: FakeStripe):
    teacher, student, _ = await world.family()
    payment_id, session_id = await paid_by_stripe(world, stripe_api, student, 10_000)
    url = f"/api/v1/payments/{payment_id}/refund"
    stripe_api.gate.close()
    try:
        held = [asyncio.create_task(world.client.post(url, json={"amount": 4_000}, headers=teacher.headers))
                for _ in range(2)]
        await eventually(lambda: stripe_api.gate.waiting == 2, timeout=15)
        third = await world.client.post(url, json={"amount": 4_000}, headers=teacher.headers)
        assert third.status_code == 409 and "At most 2000" in third.json()["detail"]
        assert not any(task.done() for task in held)
    finally:
        stripe_api.gate.open()
    answers = [await task for task in held]
    assert [a.status_code for a in answers] == [200, 200]
    rest = await world.client.post(url, headers=teacher.headers)            # all that is left: 2000
    assert rest.status_code == 200 and rest.json()["refunded"] == 10_000
    assert (await stored(world, payment_id)).refunded == 10_000
    assert sorted(refunds_at_stripe(stripe_api, session_id)) == [2_000, 4_000, 4_000]
    assert await world.ledger(student.id) == (0, 0, 4)


async def test_a_refund_whose_answer_was_lost_is_resumed_by_its_retry_and_a_refused_one_is_released(
        impatient: PaymentWorld, stripe_api: FakeStripe):
    world = impatient
    teacher, student, _ = await world.family()
    payment_id, session_id = await paid_by_stripe(world, stripe_api, student, 10_000)
    url, headers = f"/api/v1/payments/{payment_id}/refund", {**teacher.headers, "Idempotency-Key": "r-lost"}
    stripe_api.gate.close()
    try:
        lost = await world.client.post(url, json={"amount": 4_000}, headers=headers)   # no answer in a second
        assert lost.status_code == 503 and lost.headers["content-type"].startswith("application/problem+json")
        assert (await stored(world, payment_id)).refunding == 4_000                   # still reserved
    finally:
        stripe_api.gate.open()
    await eventually(lambda: refunds_at_stripe(stripe_api, session_id) == [4_000])  # done there after all

    again = await world.client.post(url, json={"amount": 4_000}, headers=headers)
    assert again.status_code == 200 and again.json()["refunded"] == 4_000
    assert refunds_at_stripe(stripe_api, session_id) == [4_000]                      # the same key: one refund

    stripe_api.refuse_refunds = True
    try:
        refused = await world.client.post(url, json={"amount": 6_000}, headers=teacher.headers)
    finally:
        stripe_api.refuse_refunds = False
    assert refused.status_code == 503
    assert (await stored(world, payment_id)).refunding == 0                          # released
    rest = await world.client.post(url, headers=teacher.headers)
    assert rest.status_code == 200 and rest.json()["refunded"] == 10_000
    async with world.app.state.session_factory() as session:
        statuses = sorted(await session.scalars(
            select(Refund.status).where(Refund.payment_id == uuid.UUID(payment_id))))
    assert statuses == ["completed", "completed", "failed"]
    assert await world.ledger(student.id) == (0, 0, 3)


class CrashingOnce:
    """A provider whose first top-up and first refund are done at the provider, after which the
    request stops before the service records the answer, as when its process dies."""

    def __init__(self, real) -> None:  # type: ignore[no-untyped-def]
        self.real, self.name, self.crashed = real, real.name, set()

    async def create(self, checkout):  # type: ignore[no-untyped-def]
        created = await self.real.create(checkout)
        self._crash("create")
        return created

    async def refund(self, provider_payment_id: str, amount: int, currency: str, key: str) -> None:
        await self.real.refund(provider_payment_id, amount, currency, key)
        self._crash("refund")

    async def notice(self, body, headers, client_ip):  # type: ignore[no-untyped-def]
        return await self.real.notice(body, headers, client_ip)

    def _crash(self, what: str) -> None:
        if what not in self.crashed:
            self.crashed.add(what)
            raise RuntimeError(f"the process stopped after the provider's {what}")


def recovered(operation: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("repitbot_payment_recoveries_total",
                                     {"operation": operation, "outcome": outcome}) or 0.0


async def test_what_a_crash_left_after_the_providers_answer_is_settled_once_by_the_recovery_loop(
        recovering: PaymentWorld, stripe_api: FakeStripe, servers):
    world = recovering
    teacher, student, _ = await world.family()
    payment_id, session_id = await paid_by_stripe(world, stripe_api, student, 10_000)
    providers = world.app.state.deps.providers.by_name
    providers["stripe"] = CrashingOnce(providers["stripe"])
    refund_url, headers = f"/api/v1/payments/{payment_id}/refund", {**teacher.headers, "Idempotency-Key": "r-1"}
    refunds_before, top_ups_before = recovered("refund", "completed"), recovered("top_up", "created")
    async with tapped(servers.rabbitmq_url, "payment.#") as tap:
        with pytest.raises(RuntimeError):
            await world.client.post(refund_url, json={"amount": 4_000}, headers=headers)
        [event] = await tap.wait_for("payment.refunded", payment_id=payment_id, timeout=20)
        assert event.payload["amount"] == 4_000

        with pytest.raises(RuntimeError):            # settled in a later round than the refund
            await world.client.post(TOP_UPS, headers=student.headers, json={
                "amount": {"amount": 7_000, "currency": "RUB"}, "provider": "stripe"})

        async def top_up_recovered() -> Payment | None:
            async with world.app.state.session_factory() as session:
                return await session.scalar(select(Payment).where(
                    Payment.student_id == student.id, Payment.amount == 7_000,
                    Payment.provider_payment_id.is_not(None)))
        top_up = await eventually(top_up_recovered, timeout=20)
        created_there = [s for s in stripe_api.sessions.values() if s["client_reference_id"] == str(top_up.id)]
        assert [s["id"] for s in created_there] == [top_up.provider_payment_id]   # one session, asked twice
        await paid_by_webhook(world, stripe_api, top_up.provider_payment_id)
        await tap.wait_for("payment.completed", payment_id=str(top_up.id))
        assert len(tap.of("payment.refunded", payment_id=payment_id)) == 1

    again = await world.client.post(refund_url, json={"amount": 4_000}, headers=headers)   # the same refund
    assert again.status_code == 200 and again.json()["refunded"] == 4_000
    assert refunds_at_stripe(stripe_api, session_id) == [4_000]
    payment = await stored(world, payment_id)
    assert (payment.refunded, payment.refunding) == (4_000, 0)
    async with world.app.state.session_factory() as session:
        assert await session.scalar(select(func.count()).select_from(LedgerEntry).where(
            LedgerEntry.payment_id == payment.id, LedgerEntry.kind == "refund")) == 1
        assert list(await session.scalars(select(Refund.status).where(Refund.payment_id == payment.id))) \
            == ["completed"]
    assert await world.ledger(student.id) == (13_000, 13_000, 3)
    assert (recovered("refund", "completed") - refunds_before, recovered("top_up", "created") - top_ups_before) \
        == (1, 1)


async def paid_by_webhook(world: PaymentWorld, stripe_api: FakeStripe, session_id: str) -> None:
    stripe_api.pay(session_id)
    body = stripe_api.event(session_id)
    paid = await world.client.post(WEBHOOK.format("stripe"), content=body,
                                   headers={"Stripe-Signature": stripe_signature(body)})
    assert paid.json() == {"status": "completed"}
