"""Submissions and files: the student's hand-ins (text and any number of files), the teacher's
task sheets, and reading a file back.

Files are streamed from the request straight into `shared.storage`, one part at a time, never
held whole. Who may write is checked before the body is read. The files of one request are
saved in a storage batch that encloses the database transaction, so a refused request (415,
413, 409 because a grade came first) leaves no blob it created behind.
"""
from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import Counter
from sqlalchemy import func, select
from starlette.requests import Request

from services.homework import events
from services.homework.domain import (
    HomeworkStatus,
    ensure_student,
    ensure_submittable,
    ensure_teacher,
    is_on_time,
    safe_file_name,
)
from services.homework.models import HomeworkFile, Submission
from services.homework.service import HOMEWORK_CONFLICTS, HomeworkRecord, get_homework, visible_homework
from services.homework.settings import HomeworkSettings
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import InvalidTransition, NotFound, TooLarge, Unprocessable
from shared.events import utcnow
from shared.storage import Batch, LocalStorage, StoredFile, accepted_types
from shared.uploads import Part, multipart_parts

TEXT_MAX_BYTES = 64_000
SUBMISSIONS = Counter("repitbot_homework_submissions_total", "Homework submissions", ["on_time"])
# answer | task (sheet); what storage made of them (created, existing, refused) is repitbot_files_stored_total
FILES_KEPT = Counter("repitbot_homework_files_total", "Files kept with homework", ["kind"])


@dataclass
class Form:
    text: str | None = None
    files: list[tuple[str, StoredFile]] = field(default_factory=list)   # (file name, stored)


async def submit_homework(uow: UnitOfWork, storage: LocalStorage, actor: Principal, homework_id: uuid.UUID,
                          request: Request, settings: HomeworkSettings, *,
                          now: datetime | None = None) -> HomeworkRecord:
    """A hand-in: multipart `text` and `files`. Allowed until graded; each one is kept."""
    async with uow.read_only():   # before the body is read
        homework = await visible_homework(uow.session, actor, homework_id)
        ensure_student(actor, homework)
        ensure_submittable(homework)
    async with storage.batch() as batch:
        form = await _read_form(multipart_parts(request, max_bytes=settings.homework_max_upload_bytes),
                                batch, settings, text_field="text")
        if form.text is None and not form.files:
            raise Unprocessable("A submission needs text or files",
                                errors=[{"loc": ["body", "files"], "msg": "send text, files or both"}])
        on_time = await _record_submission(uow, actor, homework_id, form, now or utcnow())
    SUBMISSIONS.labels(str(on_time).lower()).inc()
    _count_files(form, "answer")
    return await get_homework(uow, actor, homework_id)


async def _record_submission(uow: UnitOfWork, actor: Principal, homework_id: uuid.UUID, form: Form,
                             now: datetime) -> bool:
    """Store the submission under the homework's row lock; whether it came on time."""
    async with uow:
        homework = await visible_homework(uow.session, actor, homework_id, for_update=True)
        try:
            ensure_submittable(homework)   # a grade may have come in while the files streamed
        except InvalidTransition:
            HOMEWORK_CONFLICTS.labels("submit").inc()
            raise
        number = await uow.session.scalar(
            select(func.coalesce(func.max(Submission.number), 0)).where(Submission.homework_id == homework.id))
        submission = Submission(id=uuid.uuid4(), homework_id=homework.id, number=(number or 0) + 1,
                                text=form.text, submitted_at=now, on_time=is_on_time(now, homework.due_at))
        uow.session.add(submission)
        await uow.session.flush()
        uow.session.add_all(_file_rows(homework.id, submission.id, actor.id, form, now))
        homework.status, homework.submitted_at, homework.on_time = HomeworkStatus.SUBMITTED, now, submission.on_time
        homework.updated_at = now
        uow.emit(events.submitted(homework, submission, len(form.files)))
        await uow.commit()
    return submission.on_time


async def add_attachments(uow: UnitOfWork, storage: LocalStorage, actor: Principal, homework_id: uuid.UUID,
                          request: Request, settings: HomeworkSettings, *,
                          now: datetime | None = None) -> HomeworkRecord:
    """The teacher's task sheets: multipart `files`, added to the homework's attachments."""
    now = now or utcnow()
    async with uow.read_only():
        ensure_teacher(actor, await visible_homework(uow.session, actor, homework_id))
    async with storage.batch() as batch:
        form = await _read_form(multipart_parts(request, max_bytes=settings.homework_max_upload_bytes),
                                batch, settings, text_field=None)
        if not form.files:
            raise Unprocessable("Send at least one file", errors=[{"loc": ["body", "files"], "msg": "Field required"}])
        async with uow:
            homework = await visible_homework(uow.session, actor, homework_id, for_update=True)
            uow.session.add_all(_file_rows(homework.id, None, actor.id, form, now))
            homework.updated_at = now
            await uow.commit()
    _count_files(form, "task")
    return await get_homework(uow, actor, homework_id)


async def open_file(uow: UnitOfWork, actor: Principal, homework_id: uuid.UUID, file_id: uuid.UUID) -> HomeworkFile:
    """A file of a homework the actor may see (its teacher, its student, the student's parents)."""
    async with uow.read_only():
        await visible_homework(uow.session, actor, homework_id)
        file = await uow.session.get(HomeworkFile, file_id)
        if file is None or file.homework_id != homework_id:
            raise NotFound("No such file")
        return file


async def _read_form(parts: AsyncIterator[Part], batch: Batch, settings: HomeworkSettings, *,
                     text_field: str | None) -> Form:
    """The text and the files of a form, each file stored as it arrives, within one budget of
    bytes for all of them together."""
    form, budget = Form(), settings.homework_max_upload_bytes
    allowed = accepted_types(settings.homework_accepted_types)
    async for part in parts:
        if text_field is not None and part.name == text_field and part.filename is None:
            form.text = (await part.text(TEXT_MAX_BYTES)).strip() or None
        elif part.name == "files" and part.filename != "":   # "": a browser's empty file input
            if len(form.files) == settings.homework_max_files:
                raise TooLarge(f"At most {settings.homework_max_files} files in one request")
            stored = await _save(batch, part, budget, allowed)
            budget -= stored.size
            form.files.append((safe_file_name(part.filename), stored))
        else:
            raise Unprocessable(f"Unexpected form field {part.name!r}",
                                errors=[{"loc": ["body", part.name[:100]], "msg": "unexpected field"}])
    return form


async def _save(batch: Batch, part: Part, budget: int, allowed: frozenset[str]) -> StoredFile:
    """One file, within what is left of the request's budget of bytes."""
    try:
        return await batch.save(part.chunks(), max_bytes=budget, allowed_types=allowed)
    except TooLarge:
        raise TooLarge("The files of one request are larger than the limit together") from None


def _file_rows(homework_id: uuid.UUID, submission_id: uuid.UUID | None, uploaded_by: uuid.UUID, form: Form,
               now: datetime) -> list[HomeworkFile]:
    return [HomeworkFile(id=uuid.uuid4(), homework_id=homework_id, submission_id=submission_id,
                         position=position, storage_key=stored.key, file_name=name, content_type=stored.content_type,
                         size=stored.size, uploaded_by=uploaded_by, created_at=now)
            for position, (name, stored) in enumerate(form.files)]


def _count_files(form: Form, kind: str) -> None:
    FILES_KEPT.labels(kind).inc(len(form.files))
