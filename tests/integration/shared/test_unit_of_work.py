"""The unit of work's two modes on real PostgreSQL: a transaction that writes, one that only reads."""
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm.exc import DetachedInstanceError

from shared.db import UnitOfWork, make_engine
from shared.events import UserCreated
from shared.outbox import OutboxMessage
from shared.sql import MessagingBase


@pytest.fixture
async def uow_factory(fresh_database):
    engine = make_engine(fresh_database("unit_of_work"))
    async with engine.begin() as conn:
        await conn.run_sync(MessagingBase.metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    yield lambda: UnitOfWork(sessions, producer="test")
    await engine.dispose()


def created() -> UserCreated:
    return UserCreated(user_id=uuid.uuid4(), role="student", full_name="Ann", email="ann@example.org")


async def test_rows_read_in_a_read_only_unit_of_work_stay_readable_after_it(uow_factory):
    async with uow_factory() as uow:
        event = uow.emit(created())
        await uow.commit()
    async with uow_factory().read_only() as uow:
        row = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.event_id == event.id))
    assert (row.type, row.body["id"]) == ("user.created", str(event.id))


async def test_a_unit_of_work_left_without_commit_rolls_back_and_expires_what_it_loaded(uow_factory):
    async with uow_factory() as uow:
        event = uow.emit(created())
        await uow.commit()
    async with uow_factory() as uow:
        row = await uow.session.scalar(select(OutboxMessage).where(OutboxMessage.event_id == event.id))
        uow.emit(created())
    with pytest.raises(DetachedInstanceError):
        _ = row.type
    async with uow_factory().read_only() as uow:
        count = len((await uow.session.scalars(select(OutboxMessage))).all())
    assert count == 1   # the second event was rolled back


async def test_a_read_only_unit_of_work_refuses_to_write(uow_factory):
    uow = uow_factory()
    async with uow.read_only():
        with pytest.raises(RuntimeError, match="read-only"):
            uow.emit(created())
        with pytest.raises(RuntimeError, match="read-only"):
            await uow.commit()
    async with uow:   # the mode lasts one transaction
        uow.emit(created())
        await uow.commit()
    async with uow.read_only():
        assert len((await uow.session.scalars(select(OutboxMessage))).all()) == 1
