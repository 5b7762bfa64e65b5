"""The read model of people every service keeps: users, teacher links and parent links.

Each service owns its copy: it declares the tables on its own metadata from the mixins below
(adding columns of its own when it needs them), and binds them in a `People`, which stores what
`user.*` events say and answers the questions services ask (is this student linked to this
teacher, whose children, which names, which zone).

Writes are upserts, so an event about a user not seen yet is stored rather than refused.
`user.created` fills only what is still unknown while `user.updated` overwrites what it names,
so the result does not depend on which of the two arrives first.

An unlinked pair loses its link here (`user.*_unlinked`), and a deleted user (`user.deleted`)
loses every link and its name: the row stays as a bare id, under `deleted_name`, unless the
service erases it whole (`erase_deleted`), as docs/security.md ("Account deletion") asks of each.
What else a service holds of the user is its own to erase, in a handler of its own.

Events lag behind the user service. A link asked about before its event has arrived is asked
of the user service itself (`Directory`, through its internal route, `LINK_PATH`) and stored,
so a link is usable the moment the user service has committed it.
"""
from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx
from prometheus_client import Counter, Histogram
from pydantic import BaseModel
from sqlalchemy import String, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import Uuid

from shared.db import UnitOfWork
from shared.errors import ServiceUnavailable
from shared.events import (
    Event,
    ParentLinked,
    ParentUnlinked,
    TeacherLinked,
    TeacherUnlinked,
    UserCreated,
    UserDeactivated,
    UserDeleted,
    UserUpdated,
    utcnow,
)
from shared.inbox import EventHandler, Handlers
from shared.sql import UtcDateTime, insert_for, upsert_fields

if TYPE_CHECKING:
    from shared.app import ServiceContext

log = logging.getLogger(__name__)

LinkKind = Literal["teacher", "parent"]
LINK_PATH = "/internal/people/links/{kind}/{other_id}/{student_id}"   # served by the user service, not the gateway
LOOKUP_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_SECONDS = 2

LOOKUPS = Counter("repitbot_people_lookups_total",
                  "Links asked of the user service on a read-model miss, by answer",
                  ["service", "kind", "answer"])
LOOKUP_LATENCY = Histogram("repitbot_people_lookup_seconds",
                           "Time to ask the user service about a link on a read-model miss", ["service"])


# --- tables ---------------------------------------------------------------------------------
class UserColumns:
    """What a service knows of a user; any field may be missing while its events are on the way."""

    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    role: Mapped[str | None] = mapped_column(String(20))
    full_name: Mapped[str | None] = mapped_column(String(200))
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(10))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class TeacherLinkColumns:
    __tablename__ = "teacher_links"

    teacher_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ParentLinkColumns:
    __tablename__ = "parent_links"

    parent_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    student_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, index=True)
    linked_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


def valid_zone(name: Any) -> str | None:
    """The IANA name of a zone that exists, else None."""
    try:
        return ZoneInfo(str(name)).key if name else None
    except (ZoneInfoNotFoundError, ValueError):
        return None


# --- the internal route's contract ------------------------------------------------------------
class LinkAnswer(BaseModel):
    """The user service's answer: is `other_id` the student's teacher (or parent), since when."""

    linked: bool
    linked_at: datetime | None = None


def link_path(kind: LinkKind, other_id: uuid.UUID, student_id: uuid.UUID) -> str:
    return LINK_PATH.format(kind=kind, other_id=other_id, student_id=student_id)


class PeopleUnavailable(ServiceUnavailable):
    """The user service did not answer about a link: neither yes nor no can be said."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


class Directory:
    """Asks the user service about a link (in-process in embedded mode, over HTTP in mesh mode)."""

    def __init__(self, service: str, locate: Callable[[], tuple[str, httpx.AsyncBaseTransport | None]], *,
                 timeout: float = LOOKUP_TIMEOUT_SECONDS) -> None:
        """`locate()` gives the user service's base URL and transport, asked at the first lookup
        (in embedded mode the in-process transports are filled in after the services are made)."""
        self.service = service
        self._locate = locate
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    async def link(self, kind: LinkKind, other_id: uuid.UUID, student_id: uuid.UUID) -> LinkAnswer:
        started = time.perf_counter()
        try:
            response = await self._http().get(link_path(kind, other_id, student_id))
            response.raise_for_status()
            answer = LinkAnswer.model_validate_json(response.content)
        except Exception as exc:  # boundary: whatever went wrong there, the link cannot be confirmed
            LOOKUPS.labels(self.service, kind, "unavailable").inc()
            log.warning("the user service did not answer about a %s link: %r", kind, exc)
            raise PeopleUnavailable("The user service cannot confirm the link right now; retry shortly") from exc
        LOOKUP_LATENCY.labels(self.service).observe(time.perf_counter() - started)
        LOOKUPS.labels(self.service, kind, "linked" if answer.linked else "not_linked").inc()
        return answer

    def _http(self) -> httpx.AsyncClient:
        # One client per process: making one builds an SSL context, which costs far more than a lookup.
        if self._client is None:
            base_url, transport = self._locate()
            self._client = httpx.AsyncClient(base_url=base_url, transport=transport, timeout=self._timeout)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def directory_for(ctx: ServiceContext) -> Directory:
    """A service's directory (for its bootstrap hook): the user service in-process in embedded
    mode, at its first URL in mesh mode."""
    def locate() -> tuple[str, httpx.AsyncBaseTransport | None]:
        transport = ctx.runtime.transports.get("user")
        return ("http://user" if transport else ctx.settings.urls_of("user")[0]), transport
    return Directory(ctx.name, locate)


async def close_directory(ctx: ServiceContext, deps: Any) -> None:
    """A background loop of a service whose deps hold a `directory`: closes its connections at exit."""
    try:
        await asyncio.Event().wait()
    finally:
        await deps.directory.aclose()


# --- the read model -------------------------------------------------------------------------
@dataclass(frozen=True)
class People:
    """A service's people tables, with the writes events make and the questions services ask."""

    users: Any            # a class on UserColumns
    teacher_links: Any    # a class on TeacherLinkColumns
    parent_links: Any     # a class on ParentLinkColumns
    deleted_name: str | None = None   # a deleted user's name, where the row stays
    erase_deleted: bool = False       # a deleted user's row goes whole (nothing of it is kept)

    # writes
    async def record_user(self, session: AsyncSession, user_id: uuid.UUID, fields: dict[str, Any], *,
                          overwrite: bool) -> None:
        """Store what an event says about a user: the fields this service's table has, cleaned;
        `overwrite=False` keeps the fields already known."""
        values = self._storable(fields)
        await upsert_fields(session, self.users, {"id": user_id}, values, overwrite=overwrite)

    def _storable(self, fields: dict[str, Any]) -> dict[str, Any]:
        columns = self.users.__table__.c
        values: dict[str, Any] = {}
        for name, value in fields.items():
            if name in ("id", "updated_at") or name not in columns or value is None:
                continue
            if name == "timezone" and (value := valid_zone(value)) is None:
                continue
            length = getattr(columns[name].type, "length", None)
            values[name] = str(value)[:length] if length else value
        return values

    async def link_teacher(self, session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID, *,
                           linked_at: datetime | None = None) -> None:
        await self._link(session, "teacher", teacher_id, student_id, linked_at)

    async def link_parent(self, session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID, *,
                          linked_at: datetime | None = None) -> None:
        await self._link(session, "parent", parent_id, student_id, linked_at)

    async def _link(self, session: AsyncSession, kind: LinkKind, other_id: uuid.UUID, student_id: uuid.UUID,
                    linked_at: datetime | None) -> None:
        row = {f"{kind}_id": other_id, "student_id": student_id, "linked_at": linked_at or utcnow()}
        await session.execute(insert_for(session, self._table(kind)).values(row).on_conflict_do_nothing())

    async def unlink_teacher(self, session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> None:
        await self._unlink(session, "teacher", teacher_id, student_id)

    async def unlink_parent(self, session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID) -> None:
        await self._unlink(session, "parent", parent_id, student_id)

    async def _unlink(self, session: AsyncSession, kind: LinkKind, other_id: uuid.UUID,
                      student_id: uuid.UUID) -> None:
        columns = self._table(kind).__table__.c
        await session.execute(delete(self._table(kind))
                              .where(columns[f"{kind}_id"] == other_id, columns.student_id == student_id))

    async def forget_user(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """A deleted account: its links on either side go, and its name (`deleted_name`), or its
        whole row (`erase_deleted`)."""
        for kind in ("teacher", "parent"):
            columns = self._table(kind).__table__.c
            await session.execute(delete(self._table(kind))
                                  .where(or_(columns[f"{kind}_id"] == user_id, columns.student_id == user_id)))
        if self.erase_deleted:
            await session.execute(delete(self.users).where(self.users.id == user_id))
        else:
            await session.execute(update(self.users).where(self.users.id == user_id)
                                  .values(full_name=self.deleted_name))

    def _table(self, kind: LinkKind) -> Any:
        return self.teacher_links if kind == "teacher" else self.parent_links

    # questions
    async def user(self, session: AsyncSession, user_id: uuid.UUID) -> Any:
        return await session.get(self.users, user_id)

    async def is_teacher_of(self, session: AsyncSession, teacher_id: uuid.UUID, student_id: uuid.UUID) -> bool:
        return await session.get(self.teacher_links, (teacher_id, student_id)) is not None

    async def is_parent_of(self, session: AsyncSession, parent_id: uuid.UUID, student_id: uuid.UUID) -> bool:
        return await session.get(self.parent_links, (parent_id, student_id)) is not None

    async def teachers_of(self, session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._related(session, "teacher", "student_id", student_id, "teacher_id")

    async def students_of(self, session: AsyncSession, teacher_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._related(session, "teacher", "teacher_id", teacher_id, "student_id")

    async def parents_of(self, session: AsyncSession, student_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._related(session, "parent", "student_id", student_id, "parent_id")

    async def children_of(self, session: AsyncSession, parent_id: uuid.UUID) -> list[uuid.UUID]:
        return await self._related(session, "parent", "parent_id", parent_id, "student_id")

    async def _related(self, session: AsyncSession, kind: LinkKind, by: str, user_id: uuid.UUID,
                       wanted: str) -> list[uuid.UUID]:
        """The `wanted` side of the links whose `by` side is `user_id`, oldest link first."""
        columns = self._table(kind).__table__.c
        return list(await session.scalars(select(columns[wanted]).where(columns[by] == user_id)
                                          .order_by(columns.linked_at, columns[wanted])))

    async def names_of(self, session: AsyncSession, user_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The full names known among `user_ids` (the others are missing from the result)."""
        ids, users = set(user_ids), self.users
        if not ids:
            return {}
        rows = await session.execute(select(users.id, users.full_name)
                                     .where(users.id.in_(ids), users.full_name.is_not(None)))
        return {row.id: row.full_name for row in rows}

    async def name_of(self, session: AsyncSession, user_id: uuid.UUID | None) -> str | None:
        if user_id is None:
            return None
        return (await self.names_of(session, [user_id])).get(user_id) or None

    async def timezone_of(self, session: AsyncSession, user_id: uuid.UUID) -> str | None:
        """The user's zone, None while it is not known."""
        return await session.scalar(select(self.users.timezone).where(self.users.id == user_id))

    # a miss asks the user service
    async def confirm_teacher(self, session: AsyncSession, directory: Directory, teacher_id: uuid.UUID,
                              student_id: uuid.UUID) -> bool:
        """Is the student linked to the teacher: known here, or confirmed by the user service (and
        stored). `PeopleUnavailable` (503) when the user service cannot say."""
        return await self._confirm(session, directory, "teacher", teacher_id, student_id)

    async def confirm_parent(self, session: AsyncSession, directory: Directory, parent_id: uuid.UUID,
                             student_id: uuid.UUID) -> bool:
        """As `confirm_teacher`, for a parent."""
        return await self._confirm(session, directory, "parent", parent_id, student_id)

    async def _confirm(self, session: AsyncSession, directory: Directory, kind: LinkKind, other_id: uuid.UUID,
                       student_id: uuid.UUID) -> bool:
        if await session.get(self._table(kind), (other_id, student_id)) is not None:
            return True
        answer = await directory.link(kind, other_id, student_id)
        if answer.linked:
            await self._link(session, kind, other_id, student_id, answer.linked_at)
        return answer.linked

    # event handlers
    def subscribe(self, handlers: Handlers, *, owner: str) -> None:
        """Keep the tables up to date from `user.*` events: created, updated, linked, unlinked,
        deactivated and deleted. `owner` (the service's handlers module) names the handlers, so that inbox rows
        are the service's own, as before the kit. A service's own work on the same events (a
        notice, erasing its own data) goes in handlers of its own, under other names."""
        for event_type, handler in self._handlers().items():
            handler.__module__ = owner
            handlers.on(event_type)(handler)

    def _handlers(self) -> dict[str, EventHandler]:
        async def on_user_created(uow: UnitOfWork, event: Event) -> None:
            user = event.payload_as(UserCreated)
            await self.record_user(uow.session, user.user_id, user.model_dump(), overwrite=False)

        async def on_user_updated(uow: UnitOfWork, event: Event) -> None:
            update = event.payload_as(UserUpdated)
            await self.record_user(uow.session, update.user_id, update.changed, overwrite=True)

        async def on_teacher_linked(uow: UnitOfWork, event: Event) -> None:
            link = event.payload_as(TeacherLinked)
            await self.link_teacher(uow.session, link.teacher_id, link.student_id)

        async def on_parent_linked(uow: UnitOfWork, event: Event) -> None:
            link = event.payload_as(ParentLinked)
            await self.link_parent(uow.session, link.parent_id, link.student_id)

        async def on_teacher_unlinked(uow: UnitOfWork, event: Event) -> None:
            link = event.payload_as(TeacherUnlinked)
            await self.unlink_teacher(uow.session, link.teacher_id, link.student_id)

        async def on_parent_unlinked(uow: UnitOfWork, event: Event) -> None:
            link = event.payload_as(ParentUnlinked)
            await self.unlink_parent(uow.session, link.parent_id, link.student_id)

        async def on_user_deleted(uow: UnitOfWork, event: Event) -> None:
            await self.forget_user(uow.session, event.payload_as(UserDeleted).user_id)

        async def mark_user_deactivated(uow: UnitOfWork, event: Event) -> None:
            # only where the table keeps `active`; a reactivation comes as user.updated {"active": true}
            if "active" in self.users.__table__.c:
                await self.record_user(uow.session, event.payload_as(UserDeactivated).user_id,
                                       {"active": False}, overwrite=True)

        return {"user.created": on_user_created, "user.updated": on_user_updated,
                "user.teacher_linked": on_teacher_linked, "user.parent_linked": on_parent_linked,
                "user.teacher_unlinked": on_teacher_unlinked, "user.parent_unlinked": on_parent_unlinked,
                "user.deleted": on_user_deleted, "user.deactivated": mark_user_deactivated}
