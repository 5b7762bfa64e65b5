"""Use cases: notify people, read and mark the inbox, preferences, the list of deliveries."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notification import metrics
from services.notification.deps import NotificationDeps
from services.notification.domain import IN_APP, Preferences, jsonable
from services.notification.models import Contact, Delivery, Notification, Preference
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import NotificationSent
from shared.pagination import Page, PageParams, make_page
from shared.sql import insert_for


async def notify(uow: UnitOfWork, deps: NotificationDeps, kind: str, user_ids: list[uuid.UUID],
                 data: dict[str, Any], *, key: str, deliver_by: datetime | None = None,
                 now: datetime | None = None) -> int:
    """Put a notification in each person's inbox (once per `key`) and queue a delivery on
    each external channel they want; nothing is sent here. Returns how many were created."""
    now = now or deps.clock()
    data = jsonable(data)
    created = 0
    switched_off = set(await uow.session.scalars(
        select(Contact.id).where(Contact.id.in_(set(user_ids)), Contact.active.is_(False))))
    for user_id in dict.fromkeys(user_ids):
        if user_id in switched_off:
            metrics.WITHHELD.labels(kind).inc()
            continue
        dedupe_key = f"{key}:{kind}:{user_id}"
        if await uow.session.scalar(select(Notification.id).where(Notification.dedupe_key == dedupe_key)):
            continue
        notification = await _add_notification(uow, deps, kind, user_id, data, dedupe_key, now)
        preferences = (await preferences_of(uow.session, {user_id}))[user_id]
        for channel in preferences.channels_for(kind, tuple(deps.channels)):
            uow.session.add(Delivery(
                id=uuid.uuid4(), notification_id=notification.id, user_id=user_id, kind=kind,
                channel=channel, status="pending", due_at=now, deliver_by=deliver_by, attempts=0,
                created_at=now))
        uow.emit(NotificationSent(notification_id=notification.id, user_id=user_id, channel=IN_APP, kind=kind))
        metrics.SENT.labels(IN_APP, kind).inc()
        created += 1
    return created


async def _add_notification(uow: UnitOfWork, deps: NotificationDeps, kind: str, user_id: uuid.UUID,
                            data: dict[str, Any], dedupe_key: str, now: datetime) -> Notification:
    contact = await uow.session.get(Contact, user_id)
    rendered = deps.renderer.render(kind, data, locale=contact.locale if contact else None,
                                        timezone=contact.timezone if contact else None,
                                        recipient_id=user_id)
    notification = Notification(id=uuid.uuid4(), user_id=user_id, kind=kind, title=rendered.title[:300],
                                body=rendered.text, data=data, dedupe_key=dedupe_key, created_at=now)
    uow.session.add(notification)
    await uow.session.flush()
    return notification


# --- the inbox ----------------------------------------------------------------------------
async def list_notifications(uow: UnitOfWork, user_id: uuid.UUID, *, unread_only: bool,
                             page: PageParams) -> Page[Notification]:
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    if (after := page.after(datetime, uuid.UUID)) is not None:
        created_at, last_id = after
        query = query.where(or_(Notification.created_at < created_at,
                                and_(Notification.created_at == created_at, Notification.id < last_id)))
    async with uow.read_only():
        rows = list(await uow.session.scalars(
            query.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(page.limit + 1)))
    return make_page(rows, page.limit, lambda n: [n.created_at.isoformat(), str(n.id)])


async def get_notification(uow: UnitOfWork, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    async with uow.read_only():
        return await _own(uow, user_id, notification_id)


async def _own(uow: UnitOfWork, user_id: uuid.UUID, notification_id: uuid.UUID) -> Notification:
    notification = await uow.session.get(Notification, notification_id)
    if notification is None or notification.user_id != user_id:
        raise NotFound("No such notification")
    return notification


async def mark_read(uow: UnitOfWork, deps: NotificationDeps, user_id: uuid.UUID,
                    notification_id: uuid.UUID) -> Notification:
    async with uow:
        notification = await _own(uow, user_id, notification_id)
        if notification.read_at is None:
            notification.read_at = deps.clock()
        await uow.commit()
    return notification


async def mark_all_read(uow: UnitOfWork, deps: NotificationDeps, user_id: uuid.UUID) -> int:
    async with uow:
        result = await uow.session.execute(
            update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
            .values(read_at=deps.clock()))
        await uow.commit()
    return result.rowcount or 0


# --- preferences --------------------------------------------------------------------------
async def preferences_of(session: AsyncSession, user_ids: set[uuid.UUID]) -> dict[uuid.UUID, Preferences]:
    """Everyone's preferences, the defaults for those who never set any."""
    rows = await session.scalars(select(Preference).where(Preference.user_id.in_(user_ids))) if user_ids else []
    found = {r.user_id: Preferences.from_stored(r.channels, r.quiet_start, r.quiet_end) for r in rows}
    return {user_id: found.get(user_id) or Preferences() for user_id in user_ids}


async def get_preferences(uow: UnitOfWork, user_id: uuid.UUID) -> Preferences:
    async with uow.read_only():
        return (await preferences_of(uow.session, {user_id}))[user_id]


async def set_preferences(uow: UnitOfWork, user_id: uuid.UUID, preferences: Preferences) -> Preferences:
    start, end = preferences.quiet_hours.as_strings() if preferences.quiet_hours else (None, None)
    values = {"channels": preferences.switched, "quiet_start": start, "quiet_end": end}
    async with uow:
        await uow.session.execute(insert_for(uow.session, Preference).values(user_id=user_id, **values)
                                  .on_conflict_do_update(index_elements=[Preference.user_id], set_=values))
        await uow.commit()
    return preferences


# --- deliveries, for operators --------------------------------------------------------------
async def list_deliveries(uow: UnitOfWork, *, status: str | None, channel: str | None,
                          page: PageParams) -> Page[Delivery]:
    query = select(Delivery)
    if status:
        query = query.where(Delivery.status == status)
    if channel:
        query = query.where(Delivery.channel == channel)
    if (after := page.after(datetime, uuid.UUID)) is not None:
        created_at, last_id = after
        query = query.where(or_(Delivery.created_at < created_at,
                                and_(Delivery.created_at == created_at, Delivery.id < last_id)))
    async with uow.read_only():
        rows = list(await uow.session.scalars(
            query.order_by(Delivery.created_at.desc(), Delivery.id.desc()).limit(page.limit + 1)))
    return make_page(rows, page.limit, lambda d: [d.created_at.isoformat(), str(d.id)])
