"""The payment flow through the gateway of the embedded platform, with YooKassa faked on loopback."""
from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.conftest import settle
from tests.e2e.payment.flow import the_flow
from tests.payment_fakes import SHOP_ID, SHOP_SECRET, FakeYooKassa, fake_yookassa


@pytest.fixture
def yookassa(monkeypatch, tmp_path) -> Iterator[FakeYooKassa]:
    """The fake, and the embedded payment service's settings pointing at it (read from the environment)."""
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    with fake_yookassa() as fake:
        monkeypatch.setenv("YOOKASSA_SHOP_ID", SHOP_ID)
        monkeypatch.setenv("YOOKASSA_SECRET_KEY", SHOP_SECRET)
        monkeypatch.setenv("YOOKASSA_API_URL", fake.api_url)
        yield fake


async def test_a_parent_tops_up_through_yookassa_and_lessons_and_a_refund_keep_the_ledger_true(yookassa, embedded):
    async def wait(check) -> object:
        await settle(embedded)
        assert await check()
        return True
    await the_flow(embedded, yookassa, wait)
