"""The events a homework emits, built from its current state (payload models: shared.events)."""
from __future__ import annotations

from services.homework.models import Homework, Submission
from shared.events import HomeworkAssigned, HomeworkGraded, HomeworkSubmitted, HomeworkUpdated


def assigned(homework: Homework) -> HomeworkAssigned:
    return HomeworkAssigned(
        homework_id=homework.id, teacher_id=homework.teacher_id, student_id=homework.student_id,
        title=homework.title, due_at=homework.due_at, max_score=homework.max_score,
        lesson_id=homework.lesson_id)


def updated(homework: Homework) -> HomeworkUpdated:
    return HomeworkUpdated(
        homework_id=homework.id, teacher_id=homework.teacher_id, student_id=homework.student_id,
        title=homework.title, due_at=homework.due_at, max_score=homework.max_score)


def submitted(homework: Homework, submission: Submission, files: int) -> HomeworkSubmitted:
    return HomeworkSubmitted(
        homework_id=homework.id, student_id=homework.student_id, teacher_id=homework.teacher_id,
        submitted_at=submission.submitted_at, due_at=homework.due_at, on_time=submission.on_time,
        submission_id=submission.id, number=submission.number, files=files)


def graded(homework: Homework, *, regrade: bool) -> HomeworkGraded:
    assert homework.score is not None
    return HomeworkGraded(
        homework_id=homework.id, student_id=homework.student_id, teacher_id=homework.teacher_id,
        score=homework.score, max_score=homework.max_score, feedback=homework.feedback,
        regrade=regrade, graded_at=homework.graded_at)
