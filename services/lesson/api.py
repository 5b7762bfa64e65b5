"""Thin routes of the lesson API: parse, call a use case, return the public shape."""
from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query, Request, Response

from services.lesson import calendar, service
from services.lesson.deps import DepsDep, SettingsDep
from services.lesson.domain import LessonStatus
from services.lesson.models import IdempotencyKey
from services.lesson.schemas import (
    FeedPublic,
    LessonCancel,
    LessonComplete,
    LessonCreate,
    LessonPublic,
    LessonSeriesPublic,
    LessonUpdate,
)
from shared.app import UowDep, VerifierDep
from shared.auth import CurrentUser, TokenVerifier, current_principal, require_roles
from shared.db import UnitOfWork
from shared.idempotency import idempotency
from shared.openapi import IsoDatetime
from shared.pagination import Page, PageDep

router = APIRouter(prefix="/api/v1/lessons", tags=["lessons"])
TEACHER_OR_ADMIN = require_roles("teacher", "admin")
Once = idempotency(IdempotencyKey)
ICS = {200: {"content": {"text/calendar": {}}, "description": "An iCalendar (RFC 5545) document"},
       401: {"description": "An access token that is not valid"},
       404: {"description": "No such feed token (or it was revoked)"}}

BOOKING = """Books a lesson, or with `recurrence.weekly_count` a weekly series expanded at the same
wall-clock time in the teacher's time zone (across daylight-saving changes). A single lesson
answers with the lesson; a series answers with `{series_id, items}`.

All or nothing: when any occurrence overlaps a scheduled or in-progress lesson of the teacher
or the student, the answer is 409 and `errors` lists every clashing occurrence; nothing is
booked. 422 when `starts_at` has no offset or is in the past, or the student is not linked to
the teacher. The same `Idempotency-Key` with the same body returns the first answer (marked
`Idempotent-Replayed: true`); with another body, 409."""


# The calendar routes come first: `calendar.ics` is not a lesson id.
@router.post("/calendar/token", status_code=201, response_model=FeedPublic)
async def issue_calendar_feed(user: CurrentUser, uow: UowDep, settings: SettingsDep) -> FeedPublic:
    """A private iCalendar feed URL of the caller's lessons; replaces any earlier one."""
    owner = calendar.FeedOwner(user.id, user.role)
    return FeedPublic(url=await calendar.issue_feed(uow, owner, settings.public_base_url))


@router.delete("/calendar/token", status_code=204)
async def revoke_calendar_feed(user: CurrentUser, uow: UowDep) -> Response:
    await calendar.revoke_feed(uow, user.id)
    return Response(status_code=204)


@router.get("/calendar.ics", response_class=Response, responses=ICS)
async def calendar_feed(request: Request, uow: UowDep, settings: SettingsDep, verifier: VerifierDep,
                        token: Annotated[str | None, Query(min_length=1, max_length=4096)] = None) -> Response:
    """The feed, authorised by the feed `token` of its URL (no bearer token needed), or by an
    access token (in `token` or the Authorization header)."""
    owner = await _feed_owner(request, uow, verifier, token)
    body = await calendar.render_feed(uow, owner, past_days=settings.lesson_feed_past_days,
                                      limit=settings.lesson_feed_max_events)
    return Response(body, media_type="text/calendar; charset=utf-8",
                    headers={"Cache-Control": "private, max-age=300",
                             "Content-Disposition": 'inline; filename="lessons.ics"'})


async def _feed_owner(request: Request, uow: UnitOfWork, verifier: TokenVerifier,
                      token: str | None) -> calendar.FeedOwner:
    if token is not None and token.count(".") != 2:  # a feed token, not a JWT
        return await calendar.feed_owner(uow, token)
    user = await (verifier.verify(token) if token else current_principal(request))
    return calendar.FeedOwner(user.id, user.role)


@router.post("", status_code=201, response_model=LessonPublic | LessonSeriesPublic, description=BOOKING,
             dependencies=[TEACHER_OR_ADMIN], responses={
                 409: {"description": "The time overlaps a lesson of the teacher or the student "
                                      "(`errors` lists every clashing occurrence; nothing was booked)"},
                 422: {"description": "Invalid input, a start in the past, or a student not linked"},
                 503: {"description": "The link is not known here yet and the user service cannot "
                                      "confirm it now (`Retry-After`)"}})
async def schedule_lesson(data: LessonCreate, user: CurrentUser, uow: UowDep, once: Once, deps: DepsDep) -> Response:
    async def book() -> LessonPublic | LessonSeriesPublic:
        lessons = await service.schedule_lessons(uow, user, data, directory=deps.directory)
        if data.recurrence is None:
            return LessonPublic.of(lessons[0])
        return LessonSeriesPublic(series_id=lessons[0].series_id, items=[LessonPublic.of(x) for x in lessons])
    return await once.run(uow, book, status_code=201)


@router.get("", response_model=Page[LessonPublic])
async def list_lessons(user: CurrentUser, uow: UowDep, page: PageDep,
                       starts_from: Annotated[IsoDatetime | None, Query(alias="from")] = None,
                       starts_before: Annotated[IsoDatetime | None, Query(alias="to")] = None,
                       status: Annotated[list[LessonStatus] | None, Query()] = None,
                       student_id: uuid.UUID | None = None) -> Page[LessonPublic]:
    """The caller's lessons (a parent's: their children's) by start time; `from` inclusive,
    `to` exclusive; `status` may repeat."""
    where = service.LessonFilter(starts_from, starts_before, tuple(status or ()), student_id)
    found = await service.list_lessons(uow, user, where, page)
    return found.map(LessonPublic.of)


@router.get("/{lesson_id:uuid}", response_model=LessonPublic)
async def get_lesson(lesson_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> LessonPublic:
    return LessonPublic.of(await service.get_lesson(uow, user, lesson_id))


@router.patch("/{lesson_id:uuid}", response_model=LessonPublic)
async def reschedule_lesson(lesson_id: uuid.UUID, data: LessonUpdate, user: CurrentUser,
                            uow: UowDep) -> LessonPublic:
    """Reschedule a scheduled lesson (one occurrence of a series leaves the others alone)."""
    return LessonPublic.of(await service.reschedule_lesson(uow, user, lesson_id, data))


@router.post("/{lesson_id:uuid}/start", response_model=LessonPublic)
async def start_lesson(lesson_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> LessonPublic:
    return LessonPublic.of(await service.start_lesson(uow, user, lesson_id))


@router.post("/{lesson_id:uuid}/complete", response_model=LessonPublic)
async def complete_lesson(lesson_id: uuid.UUID, user: CurrentUser, uow: UowDep,
                          data: Annotated[LessonComplete | None, Body()] = None) -> LessonPublic:
    return LessonPublic.of(await service.complete_lesson(uow, user, lesson_id, data or LessonComplete()))


@router.post("/{lesson_id:uuid}/cancel", response_model=LessonPublic)
async def cancel_lesson(lesson_id: uuid.UUID, data: LessonCancel, user: CurrentUser,
                        uow: UowDep) -> LessonPublic:
    return LessonPublic.of(await service.cancel_lesson(uow, user, lesson_id, data))
