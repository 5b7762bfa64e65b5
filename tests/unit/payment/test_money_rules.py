"""The payment service's rules without I/O: entries, refunds, late cancellations, low balance,
the providers' decimal amounts; and a hypothesis test of the ledger's invariants."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.payment.domain import (
    EntryKind,
    LateCancelPolicy,
    cancelled_by_student,
    check_refund,
    low_balance,
    post,
    signed_amount,
    threshold_of,
)
from services.payment.providers.base import from_decimal_text, refused, to_decimal_text
from shared.errors import Conflict, Unprocessable

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)


def test_credits_add_charges_and_refunds_take_away_and_a_correction_keeps_its_sign():
    assert signed_amount(EntryKind.TOP_UP, 500) == 500
    assert signed_amount(EntryKind.MANUAL_PAYMENT, 500) == 500
    assert signed_amount(EntryKind.LESSON_CHARGE, 500) == -500
    assert signed_amount(EntryKind.LATE_CANCEL_CHARGE, 500) == -500
    assert signed_amount(EntryKind.REFUND, 500) == -500
    assert signed_amount(EntryKind.CORRECTION, -70) == -70
    for kind, amount in ((EntryKind.TOP_UP, 0), (EntryKind.LESSON_CHARGE, -1), (EntryKind.CORRECTION, 0),
                         (EntryKind.TOP_UP, 10**12 + 1)):
        with pytest.raises(Unprocessable):
            signed_amount(kind, amount)


def test_a_refund_is_at_most_what_is_left_of_a_completed_payment():
    assert check_refund("completed", 1000, 0, None) == 1000
    assert check_refund("completed", 1000, 400, None) == 600
    assert check_refund("completed", 1000, 400, 600) == 600
    for status, refunded, amount in (("pending", 0, 1), ("completed", 400, 601), ("completed", 1000, None),
                                     ("completed", 0, 0)):
        with pytest.raises(Conflict):
            check_refund(status, 1000, refunded, amount)


def test_refunds_in_flight_count_as_done():
    assert check_refund("completed", 1000, 200, None, refunding=300) == 500
    assert check_refund("completed", 1000, 200, 500, refunding=300) == 500
    with pytest.raises(Conflict, match="At most 500"):
        check_refund("completed", 1000, 200, 501, refunding=300)
    with pytest.raises(Conflict, match="being refunded"):
        check_refund("completed", 1000, 400, None, refunding=600)


@pytest.mark.parametrize(("status", "not_done"), [(400, True), (401, True), (404, True), (429, True),
                                                  (409, False), (500, False), (202, False), (0, False),
                                                  (None, False)])
def test_which_provider_errors_mean_the_call_was_not_done(status, not_done):
    assert refused(status) is not_done


@pytest.mark.parametrize(("percent", "hours", "before", "expected"), [
    (50, 24, timedelta(hours=3), 1501),      # half of 30.01, half up
    (50, 24, timedelta(hours=24), 0),        # exactly at the limit: not late
    (100, 2, timedelta(minutes=119), 3001),
    (0, 24, timedelta(hours=1), 0),
])
def test_the_late_cancel_charge(percent, hours, before, expected):
    assert LateCancelPolicy(percent, hours).charge(3001, NOW, NOW - before) == expected
    assert LateCancelPolicy(percent, hours).charge(None, NOW, NOW - before) == 0


def test_only_the_students_side_pays_for_a_cancellation():
    student, teacher = uuid.uuid4(), uuid.uuid4()
    assert cancelled_by_student("student", student, student)
    assert cancelled_by_student("parent", uuid.uuid4(), student)
    assert not cancelled_by_student("teacher", teacher, student)
    assert cancelled_by_student(None, student, student) and not cancelled_by_student(None, teacher, student)


def test_low_balance_is_told_once_per_crossing():
    assert low_balance(999, 1000, was_low=False).crossed
    assert not low_balance(500, 1000, was_low=True).crossed
    assert low_balance(500, 1000, was_low=True).low
    assert not low_balance(1000, 1000, was_low=False).low
    assert threshold_of(None, 1500) == 1500 and threshold_of(0, 1500) == 0 and threshold_of(None, None) == 0


@pytest.mark.parametrize(("amount", "currency", "text"), [
    (500_000, "RUB", "5000.00"), (1, "RUB", "0.01"), (5, "JPY", "5"), (-250, "USD", "-2.50")])
def test_decimal_text_of_minor_units(amount, currency, text):
    assert to_decimal_text(amount, currency) == text
    if amount > 0:
        assert from_decimal_text(text, currency) == amount


@pytest.mark.parametrize("text", ["1.001", "1e3", "-1.00", "", "1,00", "NaN"])
def test_decimal_text_that_is_not_an_amount(text):
    with pytest.raises(ValueError):
        from_decimal_text(text, "RUB")


# --- the invariants --------------------------------------------------------------------
operations = st.lists(st.one_of(
    st.tuples(st.just("pay"), st.integers(1, 10**7)),
    st.tuples(st.just("charge"), st.integers(1, 10**6)),
    st.tuples(st.just("late"), st.integers(1, 10**6)),
    st.tuples(st.just("refund"), st.integers(0, 30), st.one_of(st.none(), st.integers(-5, 10**7))),
    st.tuples(st.just("correct"), st.integers(-10**6, 10**6)),
), max_size=60)


@settings(max_examples=200, deadline=None)
@given(ops=operations, threshold=st.integers(-10**6, 10**6))
def test_any_sequence_of_operations_keeps_balance_equal_to_the_ledger_and_refunds_within_payments(ops, threshold):
    balance, low, ledger = 0, False, []
    payments: list[list[int]] = []          # [paid, refunded]
    crossings = 0
    for op in ops:
        kind, amount = _entry(op, payments)
        if kind is None:
            continue
        try:
            posting = post(balance, low, kind, amount, threshold)
        except Unprocessable:
            assert kind is EntryKind.CORRECTION and amount == 0
            continue
        crossings += posting.low.crossed
        balance, low = posting.balance, posting.low.low
        ledger.append(posting.delta)
        assert balance == sum(ledger)
        assert low == (balance < threshold)
    assert all(0 <= refunded <= paid for paid, refunded in payments)
    assert crossings <= sum(1 for d in ledger if d < 0) + (1 if ledger else 0)


def _entry(op: tuple, payments: list[list[int]]) -> tuple[EntryKind | None, int]:
    """The entry an operation appends (None: refused, as the service refuses it)."""
    if op[0] == "pay":
        payments.append([op[1], 0])
        return EntryKind.TOP_UP, op[1]
    if op[0] in ("charge", "late"):
        return (EntryKind.LESSON_CHARGE if op[0] == "charge" else EntryKind.LATE_CANCEL_CHARGE), op[1]
    if op[0] == "correct":
        return EntryKind.CORRECTION, op[1]
    if not payments:
        return None, 0
    payment = payments[op[1] % len(payments)]
    try:
        amount = check_refund("completed", payment[0], payment[1], op[2])
    except Conflict:
        return None, 0
    payment[1] += amount
    return EntryKind.REFUND, amount


async def test_a_yookassa_notification_from_outside_its_networks_is_refused_before_anything_is_asked():
    from services.payment.providers.base import BadNotification
    from services.payment.providers.yookassa import YooKassaProvider

    provider = YooKassaProvider("1", "secret", "http://127.0.0.1:9/v3", timeout=1, networks=["185.71.76.0/27"])
    body = b'{"type": "notification", "event": "payment.succeeded", "object": {"id": "p1"}}'
    for source in ("203.0.113.7", None, "not-an-address"):
        with pytest.raises(BadNotification):
            await provider.notice(body, {}, source)
    refund_notice = b'{"type": "notification", "event": "refund.succeeded", "object": {"id": "r1"}}'
    assert await provider.notice(refund_notice, {}, "185.71.76.5") is None   # of no interest: nothing asked
