"""The analytics service's use cases: who may see what, the range asked for, and the answers
(progress, overview) read in one read-only transaction."""
from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.analytics import domain
from services.analytics.models import KnownUser, StoredEvent
from services.analytics.overview import teacher_overview
from services.analytics.people import people
from services.analytics.progress import student_progress
from services.analytics.schemas import OverviewPublic, ProgressPublic
from services.analytics.settings import AnalyticsSettings
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import NotFound, Unprocessable
from shared.events import utcnow
from shared.people import Directory


class Viewer:
    """The caller as the answers are shown to them: their zone and language."""

    def __init__(self, principal: Principal, timezone: str | None, locale: str | None) -> None:
        self.principal = principal
        self.tz: ZoneInfo = domain.zone(timezone)
        self.locale = (locale or "ru")[:2].lower()

    @property
    def id(self) -> uuid.UUID:
        return self.principal.id


async def viewer_of(uow: UnitOfWork, principal: Principal) -> Viewer:
    async with uow.read_only():
        return await _viewer(uow.session, principal)


_USERS = KnownUser.__table__.c
VIEWER = select(_USERS.timezone, _USERS.locale).where(_USERS.id == bindparam("user_id"))   # built once


async def _viewer(session: AsyncSession, principal: Principal) -> Viewer:
    user = (await session.execute(VIEWER, {"user_id": principal.id})).first()
    return Viewer(principal, user.timezone if user else None, user.locale if user else None)


async def check_may_see(uow: UnitOfWork, viewer: Viewer, student_id: uuid.UUID, directory: Directory) -> None:
    """The student themself, their teacher, their parent or an admin; 404 for anyone else."""
    principal = viewer.principal
    if principal.role == "admin" or principal.id == student_id:
        return
    async with uow:
        if principal.role == "teacher":
            allowed = await people.confirm_teacher(uow.session, directory, principal.id, student_id)
        elif principal.role == "parent":
            allowed = await people.confirm_parent(uow.session, directory, principal.id, student_id)
        else:
            allowed = False
        await uow.commit()   # a link confirmed by the user service is kept
    if not allowed:
        raise NotFound("no such student")


def window_of(start: datetime | None, end: datetime | None, weeks: int | None, viewer: Viewer,
              settings: AnalyticsSettings, now: datetime) -> tuple[datetime, datetime]:
    try:
        return domain.window(start, end, weeks, now=now, tz=viewer.tz, default_weeks=settings.analytics_default_weeks,
                             max_days=settings.analytics_max_range_days)
    except domain.BadWindow as exc:
        raise Unprocessable(f"{exc.field} {exc}", errors=[{"loc": ["query", exc.field], "msg": str(exc)}]) from exc


async def store_version(uow: UnitOfWork) -> int:
    """The last event stored: every answer is a function of it (and of the question)."""
    async with uow.read_only():
        return await uow.session.scalar(select(func.max(StoredEvent.seq))) or 0


async def progress_of(uow: UnitOfWork, viewer: Viewer, student_id: uuid.UUID, start: datetime, end: datetime,
                      now: datetime | None = None) -> ProgressPublic:
    async with uow.read_only():
        name = await people.name_of(uow.session, student_id)
        return await student_progress(uow.session, student_id, name, start, end, viewer.tz, now or utcnow())


async def overview_for(uow: UnitOfWork, principal: Principal, start: datetime | None, end: datetime | None,
                       weeks: int | None, settings: AnalyticsSettings, now: datetime | None = None) -> OverviewPublic:
    """The caller's overview of the range asked for, in their zone: one read-only transaction
    for the viewer and the answer (422 for a range `window_of` refuses)."""
    now = now or utcnow()
    async with uow.read_only():
        viewer = await _viewer(uow.session, principal)
        start, end = window_of(start, end, weeks, viewer, settings, now)
        return await teacher_overview(uow.session, viewer.id, start, end, viewer.tz, now)


async def overview_of(uow: UnitOfWork, viewer: Viewer, start: datetime, end: datetime,
                      now: datetime | None = None) -> OverviewPublic:
    async with uow.read_only():
        return await teacher_overview(uow.session, viewer.id, start, end, viewer.tz, now or utcnow())
