"""The analytics service's read model of people (`shared.people`): who may see whose numbers,
their names in reports, the zone and language a viewer reads charts in."""
from __future__ import annotations

from services.analytics.models import KnownUser, ParentLink, TeacherLink
from shared.people import People

DELETED_NAME = "Deleted user"   # a deleted account's history stays, under this name

people = People(KnownUser, TeacherLink, ParentLink, deleted_name=DELETED_NAME)
