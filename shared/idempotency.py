"""`Idempotency-Key` for any write route: the same key with the same request gives the first answer
again (status, body, `Content-Type`, `Location`) without doing the work twice; with another request
it is a 409. Keys are scoped per caller and per route and kept for 24 hours.

The key and the answer are stored in the service's own database, in the transaction of the change
(the use case's unit of work block runs as a savepoint inside it), so a crash between the change and
the key cannot double anything. The key row is claimed first: a concurrent request with the same key
waits for that transaction, then gets its answer (or does the work itself if it rolled back).

    class IdempotencyKey(IdempotencyKeyMixin, LessonBase): ...          # models.py, plus a migration
    Once = idempotency(IdempotencyKey)                                   # api.py

    async def create(data: XCreate, user: CurrentUser, uow: UowDep, once: Once) -> Response:
        return await once.run(uow, lambda: create_x(uow, user, data), status_code=201)

Work that must not hold a transaction open while it calls someone else (a payment provider) uses
`once.run_in_steps(uow, work, lease=...)` instead: the key is claimed and answered in transactions
of their own around the work, and `once.scope` lets the work find what an earlier try began.
"""
from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from pydantic import BaseModel
from sqlalchemy import Integer, LargeBinary, String, Uuid, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.auth import CurrentUser
from shared.db import UnitOfWork
from shared.errors import Conflict
from shared.events import utcnow
from shared.sql import JSONType, UtcDateTime, insert_for

log = logging.getLogger(__name__)

KEEP = timedelta(hours=24)
REPLAYED_HEADER = "Idempotent-Replayed"
_KEPT_HEADERS = ("content-type", "location")
_PURGE_EVERY = timedelta(minutes=10)


class IdempotencyKeyMixin:
    """The table of a service's idempotency keys: `class IdempotencyKey(IdempotencyKeyMixin, <Name>Base)`."""

    __tablename__ = "idempotency_keys"

    caller_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    route: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime, index=True)


Work = Callable[[], Awaitable[BaseModel | Response]]


class Purge:
    """Deletes the expired keys of one table after a commit, every ten minutes or so per process,
    in a transaction of its own."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self._last: datetime | None = None

    def now_and_then(self, uow: UnitOfWork) -> None:
        now = utcnow()
        if self._last is not None and now - self._last < _PURGE_EVERY:
            return
        self._last = now
        engine = uow.session.bind

        async def purge() -> None:
            async with AsyncSession(engine) as session, session.begin():
                await purge_expired(session, self.model)
        uow.after_commit(purge)


async def purge_expired(session: AsyncSession, model: Any, *, now: datetime | None = None) -> int:
    """Delete the expired keys of `model`'s table; how many there were."""
    result = await session.execute(delete(model).where(model.expires_at <= (now or utcnow())))
    return result.rowcount


@dataclass
class Idempotency:
    """One request's key (None without the header), what it is scoped to, and its fingerprint."""

    purge: Purge
    caller_id: uuid.UUID
    route: str
    key: str | None
    fingerprint: str

    @property
    def scope(self) -> str | None:
        """A stable name of this caller's key on this route (None without a key): work done in
        steps (`run_in_steps`) records it to find and resume what an earlier try of the same
        request began."""
        if self.key is None:
            return None
        return hashlib.sha256(f"{self.caller_id}\n{self.route}\n{self.key}".encode()).hexdigest()

    async def run(self, uow: UnitOfWork, work: Work, *, status_code: int = 200) -> Response:
        """The answer of `work()` (a use case that commits its unit of work), or the first answer
        to this key. Only answers below 400 are kept: a refused request changed nothing."""
        if self.key is None:
            return _response(await work(), status_code)
        async with uow:
            earlier = await self._claim(uow.session)
            if earlier is not None:
                return earlier
            response = _response(await work(), status_code)
            if response.status_code < 400:
                await self._keep(uow.session, response)
                self.purge.now_and_then(uow)
                await uow.commit()
        return response

    async def run_in_steps(self, uow: UnitOfWork, work: Work, *, lease: timedelta,
                           status_code: int = 200) -> Response:
        """Like `run`, for work that cannot be one transaction: it commits several of its own and
        calls something outside them (a payment provider). The key is claimed in a transaction of
        its own and answered in another once the work has ended; a refused request (an answer of
        400 or more, or an exception) releases it. The claim lasts `lease`: when a crash left it
        unanswered, a retry after that takes it over, so the work must find and resume what an
        earlier try began (by `scope`) or be harmless to repeat."""
        if self.key is None:
            return _response(await work(), status_code)
        async with uow:
            earlier = await self._claim(uow.session, keep=lease)
            if earlier is not None:
                return earlier
            await uow.commit()
        try:
            response = _response(await work(), status_code)
        except BaseException:
            await self._settle(uow, None)
            raise
        await self._settle(uow, response if response.status_code < 400 else None)
        return response

    async def _settle(self, uow: UnitOfWork, response: Response | None) -> None:
        """Keep the answer to a claimed key, or release the claim (no answer)."""
        try:
            async with uow:
                if response is None:
                    await uow.session.execute(delete(self.model).where(*self._where(),
                                                                       self.model.status_code.is_(None)))
                else:
                    await self._keep(uow.session, response, expires_at=utcnow() + KEEP)
                    self.purge.now_and_then(uow)
                await uow.commit()
        except Exception:  # boundary: the work is done; an unsettled claim lapses with its lease
            log.exception("settling the Idempotency-Key of %s failed", self.route)

    @property
    def model(self) -> Any:
        return self.purge.model

    async def _claim(self, session: AsyncSession, *, keep: timedelta = KEEP) -> Response | None:
        """Insert this key's row (kept for `keep`), or the first answer when the key is taken
        (waiting for the transaction that took it); an expired row counts as absent."""
        model, now = self.model, utcnow()
        insert = insert_for(session, model).values(
            caller_id=self.caller_id, route=self.route, key=self.key, fingerprint=self.fingerprint,
            expires_at=now + keep)
        claimed = await session.execute(insert.on_conflict_do_update(
            index_elements=["caller_id", "route", "key"],
            set_={"fingerprint": insert.excluded.fingerprint, "expires_at": insert.excluded.expires_at,
                  "status_code": None, "headers": None, "body": None},
            where=model.__table__.c.expires_at <= now).returning(model.__table__.c.key))
        if claimed.first() is not None:
            return None
        row = (await session.execute(select(model.fingerprint, model.status_code, model.headers, model.body)
                                     .where(*self._where()))).one()
        if row.fingerprint != self.fingerprint:
            raise Conflict("This Idempotency-Key was used with a different request")
        if row.status_code is None:
            raise Conflict("A request with this Idempotency-Key is still in progress")
        return Response(content=row.body, status_code=row.status_code,
                        headers={**(row.headers or {}), REPLAYED_HEADER: "true"})

    async def _keep(self, session: AsyncSession, response: Response, **also: Any) -> None:
        kept = {name: value for name, value in response.headers.items() if name in _KEPT_HEADERS}
        await session.execute(update(self.model).where(*self._where()).values(
            status_code=response.status_code, headers=kept, body=bytes(response.body), **also))

    def _where(self) -> tuple[Any, ...]:
        model = self.model
        return model.caller_id == self.caller_id, model.route == self.route, model.key == self.key


def _response(answer: BaseModel | Response, status_code: int) -> Response:
    if isinstance(answer, Response):
        return answer
    return Response(content=answer.model_dump_json(by_alias=True), status_code=status_code,
                    media_type="application/json")


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests with one key the same request: method, path, query and body bytes."""
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def idempotency(model: Any) -> Any:
    """The dependency (an `Annotated` alias) giving routes an `Idempotency` over `model`'s table."""
    purge = Purge(model)

    async def dependency(request: Request, user: CurrentUser, idempotency_key: Annotated[
            str | None, Header(min_length=1, max_length=200, description=(
                "Retry safely: the same key with the same request returns the first answer; "
                "with another request, 409. Kept for 24 hours."))] = None) -> Idempotency:
        route = getattr(request.scope.get("route"), "path", request.url.path)
        return Idempotency(purge, user.id, f"{request.method} {route}", idempotency_key,
                           fingerprint(request.method, request.url.path, request.url.query, await request.body()))
    return Annotated[Idempotency, Depends(dependency)]

