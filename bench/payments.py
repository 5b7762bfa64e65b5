"""Ledger operations per second on PostgreSQL: one hot account, and 1,000 accounts.

    python -m bench.payments [--operations 4000] [--concurrency 20]

An operation is what a lesson charge or a manual payment does to the ledger: one transaction
that opens or locks the account row (`SELECT ... FOR UPDATE`), appends an entry, moves the
stored balance and stages `balance.updated` in the outbox. `--concurrency` transactions run at
once from one payment service (fewer than its pool of 10 connections, the default, leaves room for the outbox relay). At the end the stored
balances are checked against the sums of their ledgers.

Starts its own throw-away PostgreSQL (and RabbitMQ and Redis, unused) on loopback, as the test suite does.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import func, select

from services.payment import ledger
from services.payment.app import create_app
from services.payment.domain import EntryKind
from services.payment.models import Account, LedgerEntry
from services.payment.settings import PaymentSettings
from shared.bus import InMemoryBus
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.servers import start_servers, stop_servers


async def run(app, accounts: list[tuple[uuid.UUID, uuid.UUID]], operations: int,
              concurrency: int) -> tuple[float, float]:
    """Operations per second over `accounts` (student, teacher), chosen at random, and the
    service's CPU milliseconds per operation (this process: the service, not PostgreSQL)."""
    rng = random.Random(1)
    queue: asyncio.Queue[tuple[uuid.UUID, uuid.UUID, EntryKind]] = asyncio.Queue()
    for i in range(operations):
        student_id, teacher_id = rng.choice(accounts)
        queue.put_nowait((student_id, teacher_id, EntryKind.MANUAL_PAYMENT if i % 2 else EntryKind.LESSON_CHARGE))

    async def worker() -> None:
        while not queue.empty():
            student_id, teacher_id, kind = queue.get_nowait()
            uow = app.state.uow_factory()
            async with uow:
                account = await ledger.locked_account(uow.session, student_id, teacher_id, "RUB")
                await ledger.append(uow, account, kind, 200_000 if kind is EntryKind.MANUAL_PAYMENT else 150_000)
                await uow.commit()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return operations / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / operations


async def check(app) -> tuple[int, int]:
    async with app.state.session_factory() as session:
        stored = await session.scalar(select(func.sum(Account.balance)))
        summed = await session.scalar(select(func.sum(LedgerEntry.amount)))
    return int(stored or 0), int(summed or 0)


async def main(operations: int, concurrency: int) -> None:
    servers = start_servers(Path(tempfile.mkdtemp(prefix="repitbot-bench-")))
    try:
        settings = PaymentSettings(mode="mesh", environment="test", var_dir=Path(tempfile.mkdtemp()),
                                   database_url=servers.create_database(f"bench_{uuid.uuid4().hex[:6]}"),
                                   log_level="WARNING")
        runtime = Runtime(bus=InMemoryBus(), redis=make_redis(None))
        app = create_app(settings, runtime)
        async with app.router.lifespan_context(app):
            hot = [(uuid.uuid4(), uuid.uuid4())]
            spread = [(uuid.uuid4(), uuid.uuid4()) for _ in range(1000)]
            await run(app, spread[:50], 200, concurrency)          # warm up the pool and the plans
            for name, accounts in (("one hot account", hot), ("1,000 accounts", spread)):
                rate, cpu_ms = await run(app, accounts, operations, concurrency)
                print(f"{name:>16}: {rate:7.0f} ledger operations/s, {cpu_ms:.2f} ms of service CPU each "
                      f"({operations} operations, {concurrency} at once)")
            stored, summed = await check(app)
            print(f"stored balances {stored} == sum of the ledger {summed}: {stored == summed}")
        await runtime.close()
    finally:
        stop_servers()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--operations", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    asyncio.run(main(args.operations, args.concurrency))
