"""`Idempotency-Key` (shared.idempotency) on a route of a probe app, on real PostgreSQL and on SQLite."""
import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel
from sqlalchemy import String, Uuid, func, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import Principal, current_principal
from shared.db import UnitOfWork, make_engine
from shared.errors import install_problem_handlers
from shared.events import UserCreated, utcnow
from shared.idempotency import IdempotencyKeyMixin, idempotency, purge_expired
from shared.outbox import OutboxMessage
from shared.sql import Base, MessagingBase, new_metadata


class ProbeBase(Base):
    __abstract__ = True
    metadata = new_metadata()


class Note(ProbeBase):
    __tablename__ = "notes"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    text: Mapped[str] = mapped_column(String(100))


class ProbeKey(IdempotencyKeyMixin, ProbeBase):
    pass


class NoteIn(BaseModel):
    text: str


class NoteOut(BaseModel):
    id: uuid.UUID
    text: str


Once = idempotency(ProbeKey)


async def create_note(uow: UnitOfWork, data: NoteIn, *, fail_after_commit: bool = False) -> Note:
    """A use case as services write them: its own block, its own commit, an event with the change."""
    async with uow:
        note = Note(id=uuid.uuid4(), text=data.text)
        uow.session.add(note)
        uow.emit(UserCreated(user_id=note.id, role="student", full_name=data.text, email="probe@example.org"))
        await asyncio.sleep(0.05)  # gives a concurrent request with the same key time to arrive
        await uow.commit()
    if fail_after_commit:
        raise RuntimeError("the process died after the use case committed")
    return note


def probe_app(sessions: async_sessionmaker) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    async def caller(request: Request) -> Principal:
        return Principal(uuid.UUID(request.headers["x-caller"]), "teacher", "jti", 2**31)
    app.dependency_overrides[current_principal] = caller

    @app.post("/notes", status_code=201, response_model=NoteOut)
    async def post_note(data: NoteIn, request: Request, once: Once) -> Response:
        uow = UnitOfWork(sessions, producer="probe")

        async def work() -> Response:
            note = await create_note(uow, data, fail_after_commit=request.query_params.get("fail") == "1")
            return Response(NoteOut(id=note.id, text=note.text).model_dump_json(), status_code=201,
                            media_type="application/json", headers={"Location": f"/notes/{note.id}"})
        return await once.run(uow, work)

    @app.post("/notes/copy", status_code=201, response_model=NoteOut)
    async def copy_note(data: NoteIn, once: Once) -> Response:
        uow = UnitOfWork(sessions, producer="probe")

        async def work() -> NoteOut:
            note = await create_note(uow, data)
            return NoteOut(id=note.id, text=note.text)
        return await once.run(uow, work, status_code=201)

    @app.post("/notes/in-steps", status_code=201, response_model=NoteOut)
    async def note_in_steps(data: NoteIn, request: Request, once: Once) -> Response:
        """Work of several transactions with a call between them, held while `app.state.hold` is set."""
        uow = UnitOfWork(sessions, producer="probe")

        async def work() -> NoteOut:
            note = await create_note(uow, data)
            hold = getattr(app.state, "hold", None)
            if hold is not None:
                app.state.held.set()
                await hold.wait()
            if request.query_params.get("fail") == "1":
                raise RuntimeError("the call after the first transaction failed")
            return NoteOut(id=note.id, text=note.text)
        return await once.run_in_steps(uow, work, lease=timedelta(minutes=1), status_code=201)

    return app


@pytest.fixture(params=["postgresql", "sqlite"])
async def world(request, fresh_database, tmp_path):
    url = fresh_database("idem") if request.param == "postgresql" else f"sqlite+aiosqlite:///{tmp_path}/idem.db"
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(ProbeBase.metadata.create_all)
        await conn.run_sync(MessagingBase.metadata.create_all)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    app = probe_app(sessions)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://probe") as client:
        client.app = app
        yield client, sessions
    await engine.dispose()


def caller_headers(caller: uuid.UUID, key: str | None) -> dict[str, str]:
    return {"x-caller": str(caller), **({"Idempotency-Key": key} if key else {})}


async def counts(sessions) -> tuple[int, int, int]:
    """(notes, outbox rows, idempotency keys)"""
    async with sessions() as session:
        return tuple([await session.scalar(select(func.count()).select_from(model))
                      for model in (Note, OutboxMessage, ProbeKey)])


async def test_the_same_key_and_body_gives_the_first_answer_again_and_does_the_work_once(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-1")
    first = await client.post("/notes", json={"text": "a"}, headers=headers)
    again = await client.post("/notes", json={"text": "a"}, headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["location"] == first.headers["location"] == f"/notes/{first.json()['id']}"
    assert again.headers["content-type"] == "application/json"
    assert again.headers["idempotent-replayed"] == "true" and "idempotent-replayed" not in first.headers
    assert await counts(sessions) == (1, 1, 1)


async def test_the_same_key_with_another_body_is_a_conflict(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-2")
    assert (await client.post("/notes", json={"text": "a"}, headers=headers)).status_code == 201

    other = await client.post("/notes", json={"text": "b"}, headers=headers)

    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert "different request" in other.json()["detail"]
    assert await counts(sessions) == (1, 1, 1)


async def test_keys_are_scoped_per_caller_and_per_route(world):
    client, sessions = world
    ann, bob = uuid.uuid4(), uuid.uuid4()
    answers = [await client.post(path, json={"text": "a"}, headers=caller_headers(who, "shared-key"))
               for path, who in (("/notes", ann), ("/notes", bob), ("/notes/copy", ann))]

    assert [a.status_code for a in answers] == [201, 201, 201]
    assert len({a.json()["id"] for a in answers}) == 3
    assert await counts(sessions) == (3, 3, 3)


async def test_without_a_key_every_request_does_the_work(world):
    client, sessions = world
    for _ in range(2):
        assert (await client.post("/notes/copy", json={"text": "a"}, headers=caller_headers(uuid.uuid4(), None))
                ).status_code == 201
    assert await counts(sessions) == (2, 2, 0)


async def test_concurrent_requests_with_one_key_do_the_work_once(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-race")
    answers = await asyncio.gather(*(client.post("/notes", json={"text": "a"}, headers=headers) for _ in range(4)))

    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    assert await counts(sessions) == (1, 1, 1)


async def test_a_failure_after_the_use_case_committed_keeps_neither_the_change_nor_the_key(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-crash")
    with pytest.raises(RuntimeError):
        await client.post("/notes?fail=1", json={"text": "a"}, headers=headers)
    assert await counts(sessions) == (0, 0, 0)

    again = await client.post("/notes", json={"text": "a"}, headers=headers)
    assert again.status_code == 201 and "idempotent-replayed" not in again.headers
    assert await counts(sessions) == (1, 1, 1)


async def test_an_expired_key_does_the_work_again_and_is_purged(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-old")
    first = await client.post("/notes", json={"text": "a"}, headers=headers)
    async with sessions() as session, session.begin():
        await session.execute(update(ProbeKey).values(expires_at=utcnow() - timedelta(seconds=1)))

    later = await client.post("/notes", json={"text": "a"}, headers=headers)

    assert later.status_code == 201 and later.json()["id"] != first.json()["id"]
    async with sessions() as session, session.begin():
        await session.execute(update(ProbeKey).values(expires_at=utcnow() - timedelta(seconds=1)))
        assert await purge_expired(session, ProbeKey) == 1
    assert await counts(sessions) == (2, 2, 0)


async def test_work_in_steps_holds_its_key_while_it_runs_and_answers_it_after(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-steps")
    client.app.state.hold, client.app.state.held = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(client.post("/notes/in-steps", json={"text": "a"}, headers=headers))
    await asyncio.wait_for(client.app.state.held.wait(), 10)   # its first transaction committed, key claimed

    meanwhile = await client.post("/notes/in-steps", json={"text": "a"}, headers=headers)
    assert meanwhile.status_code == 409 and "in progress" in meanwhile.json()["detail"]
    assert await counts(sessions) == (1, 1, 1)
    client.app.state.hold.set()
    answer = await first
    again = await client.post("/notes/in-steps", json={"text": "a"}, headers=headers)

    assert answer.status_code == again.status_code == 201
    assert again.content == answer.content and again.headers["idempotent-replayed"] == "true"
    async with sessions() as session:
        expires = await session.scalar(select(ProbeKey.expires_at))
    assert expires > utcnow() + timedelta(hours=23)          # the answer is kept a day, not the lease
    assert await counts(sessions) == (1, 1, 1)


async def test_work_in_steps_that_fails_or_outlives_its_lease_frees_its_key(world):
    client, sessions = world
    headers = caller_headers(uuid.uuid4(), "k-steps-fail")
    with pytest.raises(RuntimeError):
        await client.post("/notes/in-steps?fail=1", json={"text": "a"}, headers=headers)
    assert await counts(sessions) == (1, 1, 0)               # its first transaction stays; the key is free

    client.app.state.hold, client.app.state.held = asyncio.Event(), asyncio.Event()
    stuck = asyncio.create_task(client.post("/notes/in-steps", json={"text": "a"}, headers=headers))
    await asyncio.wait_for(client.app.state.held.wait(), 10)
    async with sessions() as session, session.begin():   # as if its process had died a lease ago
        await session.execute(update(ProbeKey).values(expires_at=utcnow() - timedelta(seconds=1)))
    client.app.state.hold = None
    retry = await client.post("/notes/in-steps", json={"text": "a"}, headers=headers)

    assert retry.status_code == 201 and "idempotent-replayed" not in retry.headers
    assert await counts(sessions) == (3, 3, 1)
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    assert await counts(sessions) == (3, 3, 1)               # the answered key stays answered
