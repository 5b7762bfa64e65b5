"""A user's private iCalendar feed (RFC 5545) of their lessons, opened by a revocable token.

The token travels in the feed URL, because calendar apps cannot send a bearer token. It is
random (256 bits) and only its SHA-256 is stored; issuing a new one replaces the old one, and
deleting it revokes the URL.
"""
from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from icalendar import Calendar, Event
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.lesson import roster
from services.lesson.domain import LessonStatus
from services.lesson.models import CalendarFeed, Lesson
from services.lesson.service import lessons_since
from shared.db import UnitOfWork
from shared.errors import NotFound
from shared.events import utcnow
from shared.sql import insert_for

FEED_PATH = "/api/v1/lessons/calendar.ics"


@dataclass(frozen=True)
class FeedOwner:
    user_id: uuid.UUID
    role: str


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def issue_feed(uow: UnitOfWork, owner: FeedOwner, base_url: str) -> str:
    """A new feed URL for the user; any earlier URL stops working."""
    token = secrets.token_urlsafe(32)
    async with uow:
        stmt = insert_for(uow.session, CalendarFeed).values(
            user_id=owner.user_id, role=owner.role, token_hash=_hash(token), created_at=utcnow())
        await uow.session.execute(stmt.on_conflict_do_update(
            index_elements=["user_id"], set_={"role": stmt.excluded.role, "token_hash": stmt.excluded.token_hash,
                                              "created_at": stmt.excluded.created_at}))
        await uow.commit()
    return f"{base_url.rstrip('/')}{FEED_PATH}?token={token}"


async def revoke_feed(uow: UnitOfWork, user_id: uuid.UUID) -> None:
    async with uow:
        await drop_feed(uow.session, user_id)
        await uow.commit()


async def drop_feed(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(CalendarFeed).where(CalendarFeed.user_id == user_id))


async def feed_owner(uow: UnitOfWork, token: str) -> FeedOwner:
    async with uow.read_only():
        feed = await uow.session.scalar(select(CalendarFeed).where(CalendarFeed.token_hash == _hash(token)))
        if feed is None:
            raise NotFound("No such calendar feed; it may have been revoked")
        return FeedOwner(feed.user_id, feed.role)


async def render_feed(uow: UnitOfWork, owner: FeedOwner, *, past_days: int, limit: int,
                      now: datetime | None = None) -> bytes:
    """The owner's lessons from `past_days` ago onwards as an iCalendar document."""
    now = now or utcnow()
    async with uow.read_only():
        lessons = await lessons_since(uow.session, owner.user_id, owner.role, now - timedelta(days=past_days),
                                      limit)
        names = await roster.people.names_of(uow.session, {p for lesson in lessons for p in (lesson.teacher_id, lesson.student_id)})
    return to_ical(lessons, names, viewer_id=owner.user_id, now=now)


def to_ical(lessons: Sequence[Lesson], names: dict[uuid.UUID, str], *, viewer_id: uuid.UUID,
            now: datetime) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", "-//RepitBot//Lessons//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", "RepitBot lessons")
    calendar.add("x-published-ttl", "PT15M")
    for lesson in lessons:
        calendar.add_component(_vevent(lesson, names, viewer_id, now))
    return calendar.to_ical()


def _vevent(lesson: Lesson, names: dict[uuid.UUID, str], viewer_id: uuid.UUID, now: datetime) -> Event:
    others = [names[p] for p in (lesson.teacher_id, lesson.student_id) if p != viewer_id and p in names]
    event = Event()
    event.add("uid", str(lesson.id))
    event.add("dtstamp", now)
    event.add("dtstart", lesson.starts_at)
    event.add("dtend", lesson.ends_at)
    event.add("created", lesson.created_at)
    event.add("last-modified", lesson.updated_at)
    event.add("sequence", lesson.sequence)
    event.add("summary", " — ".join([lesson.title, *others]))
    event.add("description", "\n".join(filter(None, [
        f"Subject: {lesson.subject}", f"Type: {lesson.lesson_type}", f"Status: {lesson.status}",
        f"With: {', '.join(others)}" if others else None,
        f"Cancelled: {lesson.cancellation_reason}" if lesson.cancellation_reason else None])))
    event.add("categories", [lesson.subject])
    event.add("status", "CANCELLED" if lesson.status == LessonStatus.CANCELLED else "CONFIRMED")
    event.add("transp", "TRANSPARENT" if lesson.status == LessonStatus.CANCELLED else "OPAQUE")
    return event
