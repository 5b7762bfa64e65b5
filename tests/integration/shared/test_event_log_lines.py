"""What an operator reads in the logs when an event's handler fails: the exception and the event's
id on the failing attempt, `retried` while attempts remain, and `parked` with the reason — on the
in-memory bus (embedded mode) and on RabbitMQ (mesh mode) alike."""
import io
import json
import logging
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import async_sessionmaker

from shared import context
from shared.bus import InMemoryBus
from shared.db import UnitOfWork, make_engine
from shared.events import Event, UserCreated
from shared.inbox import Consumer, Handlers
from shared.logs import log_handler
from shared.outbox import MessagingBase, OutboxRelay
from shared.rabbit import RabbitBus
from tests.support import eventually


class Broken(Exception):
    pass


@pytest.fixture
def log_lines() -> Iterator[list[dict]]:
    stream = io.StringIO()
    handler = log_handler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level, root.level = root.level, logging.INFO

    class Lines(list):
        def read(self) -> "Lines":
            self[:] = [json.loads(line) for line in stream.getvalue().splitlines()]
            return self

    yield Lines()
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(params=["memory", "rabbitmq"])
async def bus(request):
    if request.param == "memory":
        yield InMemoryBus(max_attempts=2, retry_delay=0.01)
        return
    servers = request.getfixturevalue("servers")
    rabbit = RabbitBus(servers.rabbitmq_url, max_attempts=2, retry_delay=0.01)
    await rabbit.start()
    yield rabbit
    await rabbit.close()


@pytest.fixture
async def sessions(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'probe.db'}")
    async with engine.begin() as conn:
        await conn.run_sync(MessagingBase.metadata.create_all)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


async def test_a_failing_handler_logs_the_exception_then_the_retry_then_why_it_was_parked(bus, sessions, log_lines):
    probe = f"probe{uuid.uuid4().hex[:8]}"
    handlers = Handlers()

    @handlers.on("user.created")
    async def on_user_created(uow: UnitOfWork, event: Event) -> None:
        raise Broken("the mail server said no")

    await bus.subscribe(f"{probe}.events", ["user.created"],
                        Consumer(probe, lambda: UnitOfWork(sessions, producer=probe), handlers))
    context.correlation_id.set("corr-parked-1")
    async with UnitOfWork(sessions, producer="user") as uow:
        sent = uow.emit(UserCreated(user_id=uuid.uuid4(), role="student", full_name="A", email="a@example.org"))
        await uow.commit()
    await OutboxRelay(sessions, bus, service="user").relay_once()

    letters = await eventually(lambda: bus.dead_letters(f"{probe}.events"))
    assert [letter.event().id for letter in letters] == [sent.id]

    about = [line for line in log_lines.read() if line.get("event_id") == str(sent.id)]
    published = [line for line in about if line["message"].startswith("published")]
    assert (published[0]["service"], published[0]["correlation_id"]) == ("user", "corr-parked-1")
    failed = [line for line in about if line.get("outcome") == "failed"]
    assert len(failed) == 2 and all(line["service"] == probe and line["level"] == "ERROR" for line in failed)
    assert all("Broken: the mail server said no" in line["exc_info"] for line in failed)
    assert all(line["correlation_id"] == "corr-parked-1" for line in failed)
    retried = [line for line in about if line.get("outcome") == "retried"]
    assert [(line["consumer"], line["attempt"]) for line in retried] == [(probe, 1)]
    parked = [line for line in about if line.get("outcome") == "parked"]
    assert [(line["consumer"], line["attempt"], line["level"]) for line in parked] == [(probe, 2, "ERROR")]
    assert parked[0]["reason"] == "failed 2 times: Broken: the mail server said no"
    assert parked[0]["correlation_id"] == "corr-parked-1"
