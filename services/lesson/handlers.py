"""Event handlers: keep the read model of users and links (`user.*` events) up to date."""
from __future__ import annotations

from services.lesson.roster import people
from shared.inbox import Handlers

handlers = Handlers()
people.subscribe(handlers, owner=__name__)
