"""Local fakes of the YooKassa and Stripe APIs on loopback ports, for the payment service's tests.

Each fake is a small FastAPI app served by uvicorn in a thread of its own, so that the blocking
SDK calls the service makes (in worker threads) reach it whatever the test's event loop does.
The test plays the payer and the provider: `confirm(...)` marks a payment paid as the payer's
bank would, `notification(...)` builds what the provider would POST to the webhook.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.mesh import free_port

SHOP_ID, SHOP_SECRET = "123456", "test_shop_secret"
STRIPE_KEY, STRIPE_WEBHOOK_SECRET = "sk_test_fake", "whsec_test_fake"


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """Serve `app` on a free loopback port in a thread; its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake provider did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


class Gate:
    """Holds a fake's writes while closed, as a slow provider would; counts the calls held."""

    def __init__(self) -> None:
        self._open = threading.Event()
        self._open.set()
        self._lock = threading.Lock()
        self.waiting = 0

    def close(self) -> None:
        self._open.clear()

    def open(self) -> None:
        self._open.set()

    async def through(self) -> None:
        with self._lock:
            self.waiting += 1
        try:
            await asyncio.to_thread(self._open.wait, 60)
        finally:
            with self._lock:
                self.waiting -= 1


# --- YooKassa --------------------------------------------------------------------------
@dataclass
class FakeYooKassa:
    url: str = ""
    payments: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)   # Idempotence-Key: the first answer
    gate: Gate = field(default_factory=Gate)

    @property
    def api_url(self) -> str:
        return self.url + "/v3"

    def confirm(self, payment_id: str) -> None:
        """The payer paid at YooKassa."""
        self.payments[payment_id].update(status="succeeded", paid=True)

    def notification(self, payment_id: str, event: str = "payment.succeeded") -> dict[str, Any]:
        return {"type": "notification", "event": event, "object": self.payments.get(payment_id, {"id": payment_id})}

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v3/payments")
        async def create(request: Request) -> JSONResponse:
            if (denied := _basic_auth(request)) is not None:
                return denied
            await self.gate.through()
            key = request.headers.get("idempotence-key", "")
            if key in self.by_key:
                return JSONResponse(self.by_key[key])
            body = await request.json()
            payment_id = str(uuid.uuid4())
            payment = {"id": payment_id, "status": "pending", "paid": False, "amount": body["amount"],
                       "description": body.get("description"), "metadata": body.get("metadata", {}),
                       "recipient": {"account_id": SHOP_ID, "gateway_id": "1"}, "refundable": False,
                       "created_at": "2026-01-01T00:00:00.000Z", "test": True,
                       "confirmation": {"type": "redirect",
                                        "confirmation_url": f"{self.url}/checkout/{payment_id}"}}
            self.payments[payment_id] = self.by_key[key] = payment
            return JSONResponse(payment)

        @app.get("/v3/payments/{payment_id}")
        async def find(payment_id: str, request: Request) -> JSONResponse:
            if (denied := _basic_auth(request)) is not None:
                return denied
            if payment_id not in self.payments:
                return JSONResponse({"type": "error", "id": str(uuid.uuid4()), "code": "not_found",
                                     "description": "Payment not found"}, status_code=404)
            return JSONResponse(self.payments[payment_id])

        @app.post("/v3/refunds")
        async def refund(request: Request) -> JSONResponse:
            await self.gate.through()
            key = "refund:" + request.headers.get("idempotence-key", "")
            if key in self.by_key:
                return JSONResponse(self.by_key[key])
            body = await request.json()
            refund = {"id": str(uuid.uuid4()), "status": "succeeded", "payment_id": body["payment_id"],
                      "amount": body["amount"], "created_at": "2026-01-01T00:00:00.000Z"}
            self.refunds.append(refund)
            self.by_key[key] = refund
            return JSONResponse(refund)
        return app


def _basic_auth(request: Request) -> JSONResponse | None:
    expected = "Basic " + base64.b64encode(f"{SHOP_ID}:{SHOP_SECRET}".encode()).decode()
    if request.headers.get("authorization") != expected:
        return JSONResponse({"type": "error", "code": "invalid_credentials"}, status_code=401)
    return None


@contextmanager
def fake_yookassa() -> Iterator[FakeYooKassa]:
    fake = FakeYooKassa()
    with serving(fake.app()) as url:
        fake.url = url
        yield fake


# --- Stripe ----------------------------------------------------------------------------
@dataclass
class FakeStripe:
    url: str = ""
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    by_key: dict[str, dict[str, Any]] = field(default_factory=dict)   # Idempotency-Key: the first answer
    gate: Gate = field(default_factory=Gate)
    refuse_refunds: bool = False     # answer refunds with a 400, as for a charge already refunded

    def keyed(self, request: Request) -> str | None:
        key = request.headers.get("idempotency-key")
        return f"{request.url.path}:{key}" if key else None

    def pay(self, session_id: str) -> None:
        self.sessions[session_id].update(payment_status="paid", status="complete",
                                         payment_intent=f"pi_{uuid.uuid4().hex[:16]}")

    def event(self, session_id: str, event_type: str = "checkout.session.completed") -> bytes:
        session = self.sessions.get(session_id, {"id": session_id, "object": "checkout.session"})
        return json.dumps({"id": f"evt_{uuid.uuid4().hex[:16]}", "object": "event", "type": event_type,
                           "api_version": "2025-01-01", "created": int(time.time()),
                           "data": {"object": session}}).encode()

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/checkout/sessions")
        async def create(request: Request) -> JSONResponse:
            await self.gate.through()
            if (key := self.keyed(request)) in self.by_key:
                return JSONResponse(self.by_key[key])
            form = dict((await request.form()).items())
            session_id = f"cs_test_{uuid.uuid4().hex}"
            session = {"id": session_id, "object": "checkout.session", "status": "open",
                       "payment_status": "unpaid", "payment_intent": None,
                       "amount_total": int(str(form["line_items[0][price_data][unit_amount]"])),
                       "currency": form["line_items[0][price_data][currency]"],
                       "client_reference_id": form.get("client_reference_id"),
                       "url": f"{self.url}/pay/{session_id}"}
            self.sessions[session_id] = session
            if key:
                self.by_key[key] = session
            return JSONResponse(session)

        @app.get("/v1/checkout/sessions/{session_id}")
        async def retrieve(session_id: str) -> JSONResponse:
            return JSONResponse(self.sessions[session_id])

        @app.post("/v1/refunds")
        async def refund(request: Request) -> JSONResponse:
            await self.gate.through()
            if (key := self.keyed(request)) in self.by_key:
                return JSONResponse(self.by_key[key])
            if self.refuse_refunds:
                return JSONResponse({"error": {"type": "invalid_request_error", "code": "charge_already_refunded",
                                               "message": "Charge has already been refunded."}}, status_code=400)
            form = dict((await request.form()).items())
            refund = {"id": f"re_{uuid.uuid4().hex[:16]}", "object": "refund", "status": "succeeded",
                      "amount": int(str(form["amount"])), "payment_intent": form["payment_intent"]}
            self.refunds.append(refund)
            if key:
                self.by_key[key] = refund
            return JSONResponse(refund)
        return app


def stripe_signature(payload: bytes, secret: str = STRIPE_WEBHOOK_SECRET, at: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe would send: t=<unix time>,v1=<HMAC-SHA256 of "t.payload">."""
    at = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{at}.".encode() + payload, hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


@contextmanager
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    with serving(fake.app()) as url:
        fake.url = url
        yield fake
