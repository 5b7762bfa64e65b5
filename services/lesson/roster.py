"""The lesson service's read model of people (`shared.people`), and the zone a teacher books in."""
from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.lesson.domain import zone
from services.lesson.models import KnownUser, ParentLink, TeacherLink
from shared.people import People

DELETED_NAME = "Deleted user"   # lessons of a deleted account stay, under this name (docs/security.md)

people = People(KnownUser, TeacherLink, ParentLink, deleted_name=DELETED_NAME)


async def timezone_of(session: AsyncSession, user_id: uuid.UUID) -> ZoneInfo:
    """The user's zone; the platform default for a user whose zone is not known yet."""
    return zone(await people.timezone_of(session, user_id))
