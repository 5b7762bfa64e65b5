"""The rules of a homework: its status (with `overdue` computed from the clock, never stored),
on-time submissions, grading and re-grading, and who may do what. No I/O."""
from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Collection
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from shared.errors import Forbidden, InvalidTransition, NotFound, Unprocessable

if TYPE_CHECKING:
    from shared.auth import Principal

MAX_DUE_AHEAD = timedelta(days=2 * 366)
MAX_FILE_NAME = 255


class HomeworkStatus(StrEnum):
    ASSIGNED = "assigned"
    SUBMITTED = "submitted"
    GRADED = "graded"
    OVERDUE = "overdue"   # assigned, past `due_at`, nothing submitted: computed when read


class Participants(Protocol):
    teacher_id: uuid.UUID
    student_id: uuid.UUID


class Stated(Participants, Protocol):
    status: str
    due_at: datetime


def status_at(stored: str, due_at: datetime, now: datetime) -> HomeworkStatus:
    """What a homework is at `now`: its stored status, or overdue when nothing came in time."""
    if stored == HomeworkStatus.ASSIGNED and now > due_at:
        return HomeworkStatus.OVERDUE
    return HomeworkStatus(stored)


def is_on_time(submitted_at: datetime, due_at: datetime) -> bool:
    """A submission is on time when it arrives no later than `due_at` (decided when it arrives)."""
    return submitted_at <= due_at


def check_due(due_at: datetime, now: datetime, *, loc: tuple[str, ...] = ("body", "due_at")) -> None:
    """A due time has an offset and lies ahead, within two years."""
    if due_at.tzinfo is None or due_at.utcoffset() is None:
        raise _invalid(loc, "must include a UTC offset")
    if due_at <= now:
        raise _invalid(loc, "must be in the future")
    if due_at - now > MAX_DUE_AHEAD:
        raise _invalid(loc, "must be within two years")


def ensure_submittable(homework: Stated) -> None:
    """Hand in (or again) until graded; after a grade the homework is closed."""
    if homework.status == HomeworkStatus.GRADED:
        raise InvalidTransition("The homework is already graded; it takes no more submissions")


def ensure_gradable(homework: Stated, latest: uuid.UUID | None, seen: uuid.UUID | None) -> uuid.UUID:
    """The submission a grade is for: the latest. 409 with nothing submitted, or when the teacher
    graded a submission (`seen`) that a newer one has replaced since."""
    if latest is None or homework.status == HomeworkStatus.ASSIGNED:
        raise InvalidTransition("Nothing has been submitted yet; there is nothing to grade")
    if seen is not None and seen != latest:
        raise InvalidTransition("A newer submission has arrived; grade that one")
    return latest


def check_score(score: int, max_score: int) -> None:
    if not 0 <= score <= max_score:
        raise _invalid(("body", "score"), f"must be between 0 and max_score ({max_score})")


def check_max_score(max_score: int, graded_score: int | None) -> None:
    """A new maximum keeps a grade already given within it."""
    if graded_score is not None and graded_score > max_score:
        raise _invalid(("body", "max_score"), f"must be at least the score already given ({graded_score})")


# --- who may do what -------------------------------------------------------------------
def may_see(actor: Principal, homework: Participants, children: Collection[uuid.UUID]) -> bool:
    return (actor.role == "admin" or actor.id in (homework.teacher_id, homework.student_id)
            or (actor.role == "parent" and homework.student_id in children))


def ensure_visible(actor: Principal, homework: Participants | None,
                   children: Collection[uuid.UUID] = ()) -> None:
    """404 for a homework that does not exist or that the actor may not see."""
    if homework is None or not may_see(actor, homework, children):
        raise NotFound("No such homework")


def ensure_teacher(actor: Principal, homework: Participants) -> None:
    """Only the homework's teacher (or an admin) changes and grades it."""
    if not (actor.role == "admin" or actor.id == homework.teacher_id):
        raise Forbidden("Only the homework's teacher can do this")


def ensure_student(actor: Principal, homework: Participants) -> None:
    """Only the student it is assigned to hands it in."""
    if actor.id != homework.student_id:
        raise Forbidden("Only the student this homework is for can submit it")


def assigning_teacher(actor: Principal, teacher_id: uuid.UUID | None) -> uuid.UUID:
    """Whose homework an assignment makes: a teacher's own; an admin names the teacher."""
    if actor.role == "admin":
        if teacher_id is None:
            raise _invalid(("body", "teacher_id"), "is required when an admin assigns homework")
        return teacher_id
    if teacher_id not in (None, actor.id):
        raise Forbidden("A teacher assigns only their own homework")
    return actor.id


def safe_file_name(name: str | None, fallback: str = "file") -> str:
    """The name a file is kept under: its last path part, without control characters, at most
    255 characters (the client's word; it only names the download)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c)[0] != "C").strip()
    if cleaned in ("", ".", ".."):
        return fallback
    return cleaned[-MAX_FILE_NAME:] if len(cleaned) > MAX_FILE_NAME else cleaned


def _invalid(loc: tuple[str, ...], msg: str) -> Unprocessable:
    return Unprocessable(f"{loc[-1]} {msg}", errors=[{"loc": list(loc), "msg": msg}])
