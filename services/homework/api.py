"""Thin routes of the homework API: parse, call a use case, return the public shape."""
from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from services.homework import service, submissions
from services.homework.deps import DepsDep, SettingsDep
from services.homework.domain import HomeworkStatus
from services.homework.models import IdempotencyKey
from services.homework.schemas import (
    GradeCreate,
    HomeworkBatchPublic,
    HomeworkCreate,
    HomeworkDetail,
    HomeworkPublic,
    HomeworkUpdate,
    homework_detail,
    homework_public,
)
from shared.app import StorageDep, UowDep
from shared.auth import CurrentUser, require_roles
from shared.downloads import FILE_RESPONSES, file_response
from shared.events import utcnow
from shared.idempotency import idempotency
from shared.openapi import IsoDatetime
from shared.pagination import Page, PageDep
from shared.uploads import multipart_form_body

router = APIRouter(prefix="/api/v1/homework", tags=["homework"])
TEACHER_OR_ADMIN = require_roles("teacher", "admin")
Once = idempotency(IdempotencyKey)

ASSIGNING = """Assigns homework to one student (`student_id`: the answer is the homework) or, one
homework each, to several (`student_ids`: the answer is `{batch_id, items}`). All or nothing:
a student not linked to the teacher is a 422 naming the field (`student_ids.<index>`), and
nothing is assigned. `description` is Markdown. Task sheets are added with
`POST /api/v1/homework/{id}/attachments`. The same `Idempotency-Key` with the same body returns
the first answer (`Idempotent-Replayed: true`); with another body, 409."""

SUBMITTING = """Hands the homework in: multipart `text` (optional) and `files` (any number, up to
`HOMEWORK_MAX_FILES`, `HOMEWORK_MAX_UPLOAD_BYTES` together), streamed to storage. A file's
type is sniffed from its bytes; a type not accepted (`HOMEWORK_ACCEPTED_TYPES`; never an
executable) is a 415, too many bytes a 413, and then nothing is kept. Allowed again and again
until graded (each submission is kept; the latest counts); after the grade, 409. `on_time`
is decided now against `due_at`."""

GRADING = """Grades the latest submission: `score` 0..max_score and `feedback`; the status becomes
`graded`. Grading again is a re-grade: kept in `grades`, and told again. 409 when nothing has
been submitted, or when `submission_id` (the one the teacher read) is no longer the latest."""

UPLOAD_BODY = multipart_form_body(files={"files": "A file; send the part several times for several files"},
                                  fields={"text": {"type": "string", "maxLength": 64000}}, multiple=["files"])
TASK_BODY = multipart_form_body(files={"files": "A task sheet; send the part several times for several"},
                                required=["files"], multiple=["files"])
UPLOAD_PROBLEMS = {413: {"description": "More bytes or files than the limits; nothing was kept"},
                   415: {"description": "Not multipart, or a file of a type not accepted; nothing was kept"}}


@router.post("", status_code=201, response_model=HomeworkPublic | HomeworkBatchPublic, description=ASSIGNING,
             dependencies=[TEACHER_OR_ADMIN], responses={
                 422: {"description": "Invalid input, a due time in the past, or a student not linked"},
                 503: {"description": "A link is not known here yet and the user service cannot "
                                      "confirm it now (`Retry-After`)"}})
async def assign_homework(data: HomeworkCreate, user: CurrentUser, uow: UowDep, once: Once,
                          deps: DepsDep) -> Response:
    async def assign() -> HomeworkPublic | HomeworkBatchPublic:
        homework = await service.assign_homework(uow, user, data, directory=deps.directory)
        now = utcnow()
        if data.student_ids is None:
            return homework_public(homework[0], now)
        assert homework[0].batch_id is not None
        return HomeworkBatchPublic(batch_id=homework[0].batch_id, items=[homework_public(h, now) for h in homework])
    return await once.run(uow, assign, status_code=201)


@router.get("", response_model=Page[HomeworkPublic])
async def list_homework(user: CurrentUser, uow: UowDep, page: PageDep,
                        status: HomeworkStatus | None = None,
                        student_id: uuid.UUID | None = None,
                        due_before: Annotated[IsoDatetime | None, Query()] = None,
                        order: Annotated[Literal["newest", "due"], Query(
                            description="newest: latest assigned first; due: soonest due first")] = "newest",
                        ) -> Page[HomeworkPublic]:
    """The caller's homework (a parent's: their children's; `student_id` narrows it to one student)."""
    where = service.HomeworkFilter(status, student_id, due_before, order)
    now = utcnow()
    return (await service.list_homework(uow, user, where, page, now=now)).map(lambda h: homework_public(h, now))


@router.get("/{homework_id:uuid}", response_model=HomeworkDetail)
async def get_homework(homework_id: uuid.UUID, user: CurrentUser, uow: UowDep) -> HomeworkDetail:
    """The homework with its task sheets, every submission and every grade."""
    return homework_detail(await service.get_homework(uow, user, homework_id), utcnow())


@router.patch("/{homework_id:uuid}", response_model=HomeworkPublic)
async def update_homework(homework_id: uuid.UUID, data: HomeworkUpdate, user: CurrentUser,
                          uow: UowDep) -> HomeworkPublic:
    """The teacher changes the title, description, due time (the reminder moves) or maximum score."""
    return homework_public(await service.update_homework(uow, user, homework_id, data), utcnow())


@router.post("/{homework_id:uuid}/submissions", status_code=201, response_model=HomeworkDetail,
             description=SUBMITTING, openapi_extra=UPLOAD_BODY,
             responses={**UPLOAD_PROBLEMS, 409: {"description": "The homework is graded already"}})
async def submit_homework(homework_id: uuid.UUID, user: CurrentUser, uow: UowDep, storage: StorageDep,
                          settings: SettingsDep, request: Request) -> HomeworkDetail:
    record = await submissions.submit_homework(uow, storage, user, homework_id, request, settings)
    return homework_detail(record, utcnow())


@router.post("/{homework_id:uuid}/attachments", status_code=201, response_model=HomeworkDetail,
             openapi_extra=TASK_BODY, responses=UPLOAD_PROBLEMS)
async def add_attachments(homework_id: uuid.UUID, user: CurrentUser, uow: UowDep, storage: StorageDep,
                          settings: SettingsDep, request: Request) -> HomeworkDetail:
    """The teacher adds task sheets (multipart `files`), with the same limits as a submission."""
    record = await submissions.add_attachments(uow, storage, user, homework_id, request, settings)
    return homework_detail(record, utcnow())


@router.post("/{homework_id:uuid}/grade", response_model=HomeworkPublic, description=GRADING,
             responses={409: {"description": "Nothing submitted, or a newer submission than `submission_id`"}})
async def grade_homework(homework_id: uuid.UUID, data: GradeCreate, user: CurrentUser,
                         uow: UowDep) -> HomeworkPublic:
    return homework_public(await service.grade_homework(uow, user, homework_id, data), utcnow())


@router.head("/{homework_id:uuid}/files/{file_id:uuid}", include_in_schema=False)
@router.get("/{homework_id:uuid}/files/{file_id:uuid}", response_class=StreamingResponse, responses=FILE_RESPONSES)
async def download_file(homework_id: uuid.UUID, file_id: uuid.UUID, user: CurrentUser, uow: UowDep,
                        storage: StorageDep, request: Request) -> Response:
    """A task sheet or a submitted file, with its stored type and name; `Range` for a part (206),
    `If-None-Match` with its `ETag` (304). Its teacher, its student and the student's parents."""
    file = await submissions.open_file(uow, user, homework_id, file_id)
    return await file_response(request, storage, file.storage_key, content_type=file.content_type,
                               filename=file.file_name, size=file.size,
                               headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})
