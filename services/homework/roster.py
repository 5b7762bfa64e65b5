"""The homework service's read model of people (`shared.people`)."""
from __future__ import annotations

from services.homework.models import KnownUser, ParentLink, TeacherLink
from shared.people import People

DELETED_NAME = "Deleted user"   # homework of a deleted account stays, under this name

people = People(KnownUser, TeacherLink, ParentLink, deleted_name=DELETED_NAME)
