"""The dictionary service's read model of people (`shared.people`): which students a teacher may
share decks with, and each student's zone (whose local day limits new cards)."""
from __future__ import annotations

import uuid
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from services.dictionary.domain import zone
from services.dictionary.models import KnownUser, ParentLink, TeacherLink
from shared.people import People

people = People(KnownUser, TeacherLink, ParentLink, erase_deleted=True)


async def timezone_of(session: AsyncSession, user_id: uuid.UUID) -> ZoneInfo:
    """The user's zone; the platform default while it is not known."""
    return zone(await people.timezone_of(session, user_id))
