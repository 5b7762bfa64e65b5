"""Top-ups through YooKassa, Stripe and the demo page, their webhooks, refunds and idempotency, on
real PostgreSQL and RabbitMQ with local fakes of the providers' APIs."""
from __future__ import annotations

import json
import re
import time
import uuid

from sqlalchemy import select

from services.payment.models import LedgerEntry, Payment
from tests.integration.payment.world import PaymentWorld
from tests.payment_fakes import FakeStripe, FakeYooKassa, stripe_signature
from tests.support import Person, tapped

WEBHOOK = "/api/v1/payments/webhooks/{}"


async def top_up(world: PaymentWorld, payer: Person, amount: int, provider: str, **extra) -> dict:
    response = await world.client.post("/api/v1/payments/top-ups", headers=payer.headers, json={
        "amount": {"amount": amount, "currency": "RUB"}, "provider": provider, **extra})
    assert response.status_code == 201, response.text
    assert response.json()["status"] == "pending"
    return response.json()


async def provider_id(world: PaymentWorld, payment_id: str) -> str:
    async with world.app.state.session_factory() as session:
        return (await session.get(Payment, uuid.UUID(payment_id))).provider_payment_id


async def entries(world: PaymentWorld, student: Person) -> list[LedgerEntry]:
    async with world.app.state.session_factory() as session:
        return list(await session.scalars(select(LedgerEntry).where(LedgerEntry.student_id == student.id)))


async def balance(world: PaymentWorld, who: Person, student: Person) -> int:
    response = await world.client.get("/api/v1/payments/balance", params={"student_id": str(student.id)},
                                      headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()["balance"]["amount"]


async def test_a_parent_tops_up_through_yookassa_trusted_only_once_the_api_says_it_is_paid(
        world: PaymentWorld, yookassa: FakeYooKassa, servers):
    teacher, student, parent = await world.family()
    async with tapped(servers.rabbitmq_url, "payment.#", "balance.#") as tap:
        payment = await top_up(world, parent, 500_000, "yookassa", student_id=str(student.id))
        assert payment["confirmation_url"].startswith(yookassa.url)
        assert (payment["payer_id"], payment["teacher_id"]) == (str(parent.id), str(teacher.id))
        remote = await provider_id(world, payment["id"])
        notification = json.dumps(yookassa.notification(remote)).encode()

        not_paid = await world.client.post(WEBHOOK.format("yookassa"), content=notification)
        assert not_paid.status_code == 400
        assert not_paid.headers["content-type"].startswith("application/problem+json")
        assert await entries(world, student) == []

        yookassa.confirm(remote)
        for _ in range(2):   # the same notification twice: completed once
            answer = await world.client.post(WEBHOOK.format("yookassa"), content=notification)
            assert answer.status_code == 200, answer.text
        assert answer.json() == {"status": "already_done"}
        [completed] = await tap.wait_for("payment.completed", payment_id=payment["id"])
        assert (completed.payload["payer_id"], completed.payload["amount"]) == (str(parent.id), 500_000)
        [updated] = await tap.wait_for("balance.updated", student_id=student.id)
        assert (updated.payload["balance"], updated.payload["teacher_id"]) == (500_000, str(teacher.id))
    assert [e.amount for e in await entries(world, student)] == [500_000]
    assert await balance(world, parent, student) == await balance(world, teacher, student) == 500_000

    unknown = json.dumps(yookassa.notification(str(uuid.uuid4()))).encode()
    assert (await world.client.post(WEBHOOK.format("yookassa"), content=unknown)).status_code == 400  # API: 404
    for garbage in (b"not json", b"{}", b'{"event": 1, "object": {"id": 2}}'):
        assert (await world.client.post(WEBHOOK.format("yookassa"), content=garbage)).status_code == 400


async def test_a_yookassa_amount_that_is_not_the_payments_is_refused_and_flagged(world, yookassa: FakeYooKassa):
    _, student, _ = await world.family()
    payment = await top_up(world, student, 100_000, "yookassa")
    remote = await provider_id(world, payment["id"])
    yookassa.confirm(remote)
    yookassa.payments[remote]["amount"] = {"value": "1.00", "currency": "RUB"}
    refused = await world.client.post(WEBHOOK.format("yookassa"), content=json.dumps(yookassa.notification(remote)))
    assert refused.status_code == 400
    async with world.app.state.session_factory() as session:
        stored = await session.get(Payment, uuid.UUID(payment["id"]))
    assert (stored.status, stored.flag) == ("pending", "notified 100 RUB, expected 100000 RUB")
    assert await entries(world, student) == []


async def test_stripe_webhooks_need_a_fresh_valid_signature(world, stripe_api: FakeStripe):
    _, student, _ = await world.family()
    payment = await top_up(world, student, 250_000, "stripe")
    session_id = await provider_id(world, payment["id"])
    assert payment["confirmation_url"].endswith(session_id)
    unpaid = stripe_api.event(session_id)   # completed by an asynchronous method, not paid yet
    waiting = await world.client.post(WEBHOOK.format("stripe"), content=unpaid,
                                      headers={"Stripe-Signature": stripe_signature(unpaid)})
    assert waiting.json() == {"status": "ignored"}
    stripe_api.pay(session_id)
    body = stripe_api.event(session_id)
    forged = stripe_signature(body, secret="whsec_someone_else")
    replayed = stripe_signature(body, at=int(time.time()) - 3600)
    for signature in (forged, replayed, "t=1,v1=00", None):
        headers = {"Stripe-Signature": signature} if signature else {}
        refused = await world.client.post(WEBHOOK.format("stripe"), content=body, headers=headers)
        assert refused.status_code == 400, refused.text
    assert await entries(world, student) == []

    ok = await world.client.post(WEBHOOK.format("stripe"), content=body, headers={"Stripe-Signature": stripe_signature(body)})
    assert ok.json() == {"status": "completed"}
    assert await balance(world, student, student) == 250_000

    refunded = await world.client.post(f"/api/v1/payments/{payment['id']}/refund", json={"amount": 50_000},
                                       headers=world.keys.headers(uuid.uuid4(), "admin"))
    assert refunded.status_code == 200, refunded.text
    assert [r["amount"] for r in stripe_api.refunds if r["payment_intent"]] [-1:] == [50_000]
    assert await balance(world, student, student) == 200_000


async def test_the_demo_page_completes_a_top_up_through_the_same_webhook(world):
    _, student, _ = await world.family()
    payment = await top_up(world, student, 150_000, "demo")
    url = payment["confirmation_url"].removeprefix("https://api.repitbot.test")
    page = await world.client.get(url)
    assert page.status_code == 200 and "1500.00 RUB" in page.text
    fields = dict(re.findall(r'name="(\w+)" value="([^"]+)"', page.text))
    assert (await world.client.get(url + "0")).status_code == 404          # a wrong signature
    forged = await world.client.post(WEBHOOK.format("demo"), data={**fields, "signature": "0" * 64})
    assert forged.status_code == 400
    paid = await world.client.post(WEBHOOK.format("demo"), data=fields)
    assert paid.json() == {"status": "completed"}
    assert await balance(world, student, student) == 150_000
    assert (await world.client.get(url)).status_code == 404                # no longer pending

    stranger = uuid.uuid4()   # well signed, but no payment here: 200, so the provider stops retrying
    token = world.app.state.deps.providers.demo.token(stranger)
    unknown = await world.client.post(WEBHOOK.format("demo"), data={"payment_id": str(stranger), "signature": token})
    assert unknown.json() == {"status": "ignored"}
    assert await balance(world, student, student) == 150_000


async def test_refunds_never_exceed_what_was_paid_and_only_the_teacher_or_an_admin_refunds(world):
    teacher, student, parent = await world.family()
    manual = await world.client.post("/api/v1/payments/manual", headers=teacher.headers, json={
        "student_id": str(student.id), "amount": {"amount": 100_000, "currency": "RUB"}, "payer_id": str(parent.id),
        "note": "cash"})
    assert manual.status_code == 201 and manual.json()["status"] == "completed"
    url = f"/api/v1/payments/{manual.json()['id']}/refund"
    other_teacher = world.person("teacher")
    assert (await world.client.post(url, json={"amount": 1}, headers=other_teacher.headers)).status_code == 404
    assert (await world.client.post(url, json={"amount": 1}, headers=student.headers)).status_code == 403
    assert (await world.client.post(url, json={"amount": 100_001}, headers=teacher.headers)).status_code == 409
    assert (await world.client.post(url, json={"amount": 60_000}, headers=teacher.headers)).status_code == 200
    rest = await world.client.post(url, headers=teacher.headers)   # all that is left
    assert rest.json()["refunded"] == 100_000
    assert (await world.client.post(url, json={"amount": 1}, headers=teacher.headers)).status_code == 409
    stored, summed, count = await world.ledger(student.id)
    assert (stored, summed, count) == (0, 0, 3)


async def test_the_same_idempotency_key_gives_the_first_answer_and_another_body_a_409(world):
    _, student, _ = await world.family()
    headers = {**student.headers, "Idempotency-Key": "top-up-1"}
    body = {"amount": {"amount": 10_000, "currency": "RUB"}, "provider": "demo"}
    first = await world.client.post("/api/v1/payments/top-ups", json=body, headers=headers)
    again = await world.client.post("/api/v1/payments/top-ups", json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await world.client.post("/api/v1/payments/top-ups", headers=headers,
                                    json={**body, "amount": {"amount": 20_000, "currency": "RUB"}})
    assert other.status_code == 409


async def test_malformed_top_ups_are_422(world):
    for body in ({"amount": {"amount": 1.5, "currency": "RUB"}}, {"amount": {"amount": 0, "currency": "RUB"}},
                 {"amount": {"amount": 100, "currency": "rub"}}, {"amount": {"amount": 100}, "provider": "paypal"},
                 {"amount": {"amount": 100}, "student_id": "not-a-uuid"}, {"amount": {"amount": 100}, "extra": 1}):
        response = await world.client.post("/api/v1/payments/top-ups", json=body,
                                           headers=world.keys.headers(uuid.uuid4(), "student"))
        assert response.status_code == 422, (body, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
