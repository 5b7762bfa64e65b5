"""Thin routes of the payment API: parse, call a use case, return the public shape."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import HTMLResponse, StreamingResponse

from services.payment import demo_page, refunds, service, views
from services.payment.deps import DepsDep, PaymentDeps
from services.payment.domain import EntryKind
from services.payment.models import IdempotencyKey
from services.payment.schemas import (
    AccountPublic,
    BalancePublic,
    CorrectionCreate,
    IncomePublic,
    ManualPaymentCreate,
    PaymentPublic,
    PolicyPublic,
    PolicyUpdate,
    RefundCreate,
    TopUpCreate,
    TransactionPublic,
    WebhookAnswer,
)
from shared.addresses import client_address
from shared.app import UowDep
from shared.auth import CurrentUser, require_roles
from shared.downloads import content_disposition
from shared.events import utcnow
from shared.idempotency import idempotency
from shared.openapi import IsoDatetime
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/payments", tags=["payments"])
TEACHER = require_roles("teacher")
TEACHER_OR_ADMIN = require_roles("teacher", "admin")
PAYERS = require_roles("student", "parent")
ADMIN = require_roles("admin")
Once = idempotency(IdempotencyKey)
ProviderName = Annotated[str, Path(min_length=1, max_length=20, pattern=r"^[a-z]+$")]
KindsQuery = Annotated[list[EntryKind] | None, Query(alias="kind")]
FromQuery = Annotated[IsoDatetime | None, Query(alias="from", description="Inclusive")]
ToQuery = Annotated[IsoDatetime | None, Query(alias="to", description="Exclusive")]
WEBHOOK_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": {"type": "object"}},
    "application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
        "payment_id": {"type": "string"}, "signature": {"type": "string"}}}}}}}

TOP_UP = """Creates a pending payment at the provider (`provider`, or the platform's default) for the
student's account with one teacher (`teacher_id`, needed when the student has several) and answers
with its `confirmation_url`; the provider's notification completes it. A student tops up their own
account, a parent a child's (`student_id`); the caller is recorded as the payer. The same
`Idempotency-Key` with the same body returns the first answer; with another body, 409. When the
provider fails (503) the payment is kept as `failed` and the same key may be used again."""

WEBHOOK = """A provider's notification. Stripe's is verified by its `Stripe-Signature` (HMAC, timestamp
tolerance); YooKassa's, which is not signed, by fetching the payment back from its API; the demo
page's by the signature of its link. A notification that cannot be trusted, or whose amount is not
the payment's (the payment is then flagged), is a 400 and changes nothing; the same notification
again changes nothing more; one for an unknown payment is a 200 with nothing changed."""


@router.get("/balance", response_model=BalancePublic)
async def get_balance(user: CurrentUser, uow: UowDep, student_id: uuid.UUID | None = None,
                      teacher_id: uuid.UUID | None = None) -> BalancePublic:
    """A student's accounts, one per teacher (a student's own without `student_id`)."""
    return await views.balance(uow, user, student_id, teacher_id)


@router.get("/accounts", response_model=Page[AccountPublic])
async def list_accounts(user: CurrentUser, uow: UowDep, page: PageDep,
                        debts: Annotated[bool, Query(description="Only negative balances")] = False
                        ) -> Page[AccountPublic]:
    """The accounts the caller may see: a teacher's students', with their debts."""
    return await views.list_accounts(uow, user, page, debts_only=debts)


def _filter(student_id: uuid.UUID | None, teacher_id: uuid.UUID | None, kind: list[EntryKind] | None,
            since: datetime | None, before: datetime | None) -> views.EntryFilter:
    return views.EntryFilter(student_id, teacher_id, tuple(k.value for k in kind or ()), since, before)


@router.get("/transactions", response_model=Page[TransactionPublic])
async def list_transactions(user: CurrentUser, uow: UowDep, page: PageDep, student_id: uuid.UUID | None = None,
                            teacher_id: uuid.UUID | None = None, kind: KindsQuery = None,
                            since: FromQuery = None, before: ToQuery = None) -> Page[TransactionPublic]:
    """Ledger entries the caller may see, newest first; `kind` may repeat."""
    where = _filter(student_id, teacher_id, kind, since, before)
    return (await views.list_entries(uow, user, where, page)).map(TransactionPublic.of)


@router.get("/transactions.csv", response_class=StreamingResponse,
            responses={200: {"content": {"text/csv": {}}, "description": "The entries as CSV, oldest first"}})
async def export_transactions(user: CurrentUser, uow: UowDep, student_id: uuid.UUID | None = None,
                              teacher_id: uuid.UUID | None = None, kind: KindsQuery = None,
                              since: FromQuery = None, before: ToQuery = None) -> StreamingResponse:
    """The same entries as `/transactions` as a CSV file (at most 100,000 rows)."""
    lines = await views.entries_csv(uow, user, _filter(student_id, teacher_id, kind, since, before))
    return StreamingResponse(lines, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": content_disposition("transactions.csv")})


@router.get("/income", response_model=IncomePublic, dependencies=[TEACHER])
async def get_income(user: CurrentUser, uow: UowDep,
                     year: Annotated[int | None, Query(ge=2000, le=9998, description="This year when absent")] = None
                     ) -> IncomePublic:
    """Money received, refunded and charged by month, in the teacher's time zone."""
    year = year or utcnow().year
    return IncomePublic(teacher_id=user.id, year=year, months=await views.income(uow, user.id, year))


@router.get("/policy", response_model=PolicyPublic, dependencies=[TEACHER])
async def get_policy(user: CurrentUser, uow: UowDep) -> PolicyPublic:
    return PolicyPublic.of(await service.get_policy(uow, user.id))


@router.put("/policy", response_model=PolicyPublic, dependencies=[TEACHER])
async def set_policy(data: PolicyUpdate, user: CurrentUser, uow: UowDep) -> PolicyPublic:
    """The late-cancel charge and the low-balance threshold of the teacher's students' accounts."""
    return PolicyPublic.of(await service.set_policy(uow, user.id, data))


@router.post("/top-ups", status_code=201, response_model=PaymentPublic, dependencies=[PAYERS], description=TOP_UP,
             responses={503: {"description": "The provider or the user service cannot be reached now"}})
async def create_top_up(data: TopUpCreate, user: CurrentUser, uow: UowDep, once: Once, deps: DepsDep) -> Response:
    ctx = service.TopUpContext(deps.providers, deps.directory, deps.settings.payment_return_url)
    return await once.run_in_steps(uow, lambda: _payment(service.create_top_up(uow, user, data, ctx)),
                                   lease=_lease(deps), status_code=201)


@router.post("/manual", status_code=201, response_model=PaymentPublic, dependencies=[TEACHER])
async def record_manual_payment(data: ManualPaymentCreate, user: CurrentUser, uow: UowDep, once: Once,
                                deps: DepsDep) -> Response:
    """Cash or a bank transfer from the teacher's student's family: completed at once."""
    return await once.run(uow, lambda: _payment(service.record_manual_payment(uow, user, data, deps.directory)),
                          status_code=201)


@router.post("/corrections", status_code=201, response_model=TransactionPublic, dependencies=[ADMIN])
async def correct_account(data: CorrectionCreate, user: CurrentUser, uow: UowDep, once: Once) -> Response:
    """An admin's signed correction of an account, with its reason."""
    async def work() -> TransactionPublic:
        return TransactionPublic.of(await service.correct(uow, user, data))
    return await once.run(uow, work, status_code=201)


@router.post("/webhooks/{provider}", response_model=WebhookAnswer, description=WEBHOOK, openapi_extra=WEBHOOK_BODY,
             responses={400: {"description": "Not trusted, or the amount is not the payment's; nothing changed"}})
async def webhook(provider: ProviderName, request: Request, uow: UowDep, deps: DepsDep) -> WebhookAnswer:
    peer = request.client.host if request.client else "unknown"
    ip = client_address(peer, request.headers.get("x-forwarded-for", ""), tuple(deps.settings.trusted_proxies))
    status = await service.handle_webhook(uow, deps.providers, provider, await request.body(), request.headers, ip)
    return WebhookAnswer(status=status)  # type: ignore[arg-type]


@router.get("/demo/{payment_id:uuid}", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The demo provider's confirmation page"}})
async def demo_confirmation(payment_id: uuid.UUID, uow: UowDep, deps: DepsDep,
                            signature: Annotated[str, Query(max_length=128)] = "") -> HTMLResponse:
    """The demo provider's page (no account anywhere): its button posts to the demo webhook."""
    return HTMLResponse(await demo_page.render(uow, deps.providers.demo, payment_id, signature))


@router.get("/{payment_id:uuid}", response_model=PaymentPublic)
async def get_payment(payment_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> PaymentPublic:
    return PaymentPublic.of(await service.get_payment(uow, user, payment_id))


@router.post("/{payment_id:uuid}/refund", response_model=PaymentPublic, dependencies=[TEACHER_OR_ADMIN],
             responses={409: {"description": "Not completed, or more than is left of it (counting refunds "
                                             "in flight)"},
                        503: {"description": "The provider cannot be reached now, or did not answer: the refund "
                                             "is completed later if it went through (retry with the same "
                                             "Idempotency-Key to learn its outcome)"}})
async def refund_payment(payment_id: uuid.UUID, user: CurrentUser, uow: UowDep, once: Once, deps: DepsDep,
                         data: RefundCreate | None = None) -> Response:
    """Refund part (`amount`) or all that is left of a payment, through its provider."""
    return await once.run_in_steps(uow, lambda: _payment(refunds.refund(
        uow, user, payment_id, data or RefundCreate(), deps.providers, once.scope)), lease=_lease(deps))


async def _payment(work) -> PaymentPublic:  # type: ignore[no-untyped-def]
    return PaymentPublic.of(await work)


def _lease(deps: PaymentDeps) -> timedelta:
    """How long a request's Idempotency-Key stays claimed without an answer: as long as its
    provider call may stay unsettled before the recovery loop settles it."""
    return timedelta(seconds=deps.settings.payment_recovery_after_seconds)
