"""Routes of the notifications API: thin, the use cases are in service.py."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from services.notification import service
from services.notification.deps import DepsDep
from services.notification.domain import DeliveryStatus, ExternalChannel
from services.notification.schemas import (
    DeliveryPage,
    NotificationPage,
    NotificationPublic,
    PreferencesPublic,
    PreferencesUpdate,
    ReadAllResult,
)
from shared.app import UowDep
from shared.auth import CurrentUser, require_roles
from shared.pagination import PageDep

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


@router.get("", response_model=NotificationPage)
async def list_notifications(user: CurrentUser, uow: UowDep, page: PageDep, unread: bool = False):
    """The caller's inbox, newest first; `?unread=true` for the unread ones only."""
    return await service.list_notifications(uow, user.id, unread_only=unread, page=page)


@router.post("/read-all", response_model=ReadAllResult)
async def mark_all_read(user: CurrentUser, uow: UowDep, deps: DepsDep):
    return {"marked": await service.mark_all_read(uow, deps, user.id)}


@router.get("/preferences", response_model=PreferencesPublic)
async def get_preferences(user: CurrentUser, uow: UowDep):
    return PreferencesPublic.of(await service.get_preferences(uow, user.id))


@router.put("/preferences", response_model=PreferencesPublic)
async def put_preferences(body: PreferencesUpdate, user: CurrentUser, uow: UowDep):
    """Channels on or off per kind (in-app is always on), and quiet hours in the caller's time zone."""
    return PreferencesPublic.of(await service.set_preferences(uow, user.id, body.to_domain()))


@router.get("/deliveries", response_model=DeliveryPage, dependencies=[require_roles("admin")])
async def list_deliveries(uow: UowDep, page: PageDep,
                          status: Annotated[DeliveryStatus | None, Query()] = None,
                          channel: Annotated[ExternalChannel | None, Query()] = None):
    """Deliveries on e-mail and Telegram, newest first: `?status=failed` shows what did not arrive and why."""
    return await service.list_deliveries(uow, status=status, channel=channel, page=page)


@router.get("/{notification_id:uuid}", response_model=NotificationPublic)
async def get_notification(notification_id: uuid.UUID, user: CurrentUser, uow: UowDep):
    return await service.get_notification(uow, user.id, notification_id)


@router.post("/{notification_id:uuid}/read", response_model=NotificationPublic)
async def mark_read(notification_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep):
    return await service.mark_read(uow, deps, user.id, notification_id)
