"""What a student could do next, and why: achievements within reach, a streak ending tonight,
dictionary practice, unstudied materials in the subjects of their recent lessons."""
from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from services.student import people, progress
from services.student.engine import StudentState, closest_achievements
from services.student.models import FactRow, Material
from services.student.service import Gamification, student_locale, student_today, visible_student
from services.student.state import zone
from shared.auth import Principal
from shared.db import UnitOfWork

CLOSEST = 3
MATERIALS = 3


def streak_item(days: int) -> dict[str, Any]:
    return {"kind": "streak", "streak_days": days, "reasons": {
        "ru": f"Серия из {days} дн. подряд прервётся в полночь, если сегодня не позаниматься",
        "en": f"Your {days}-day streak ends at midnight unless you study today"}}


def achievement_item(closest: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "achievement", "code": closest["code"], "title": closest["titles"],
            "current": closest["current"], "target": closest["target"], "missing": closest["missing"],
            "reasons": closest["reason"]}


def dictionary_item(last_review: date) -> dict[str, Any]:
    day = last_review.isoformat()
    return {"kind": "dictionary", "last_reviewed_on": day, "reasons": {
        "ru": f"Вы повторяли карточки {day}, а сегодня ещё нет. Совет основан на истории ваших "
              "повторений; какие карточки пора повторить, покажет словарь",
        "en": f"You last reviewed cards on {day} and not yet today. This is based on your review "
              "history; the dictionary shows which cards are due"}}


def material_item(material: Material) -> dict[str, Any]:
    title = material.title or material.subject
    return {"kind": "material", "material_id": material.id, "subject": material.subject, "title": title,
            "reasons": {"ru": f"Вы ещё не изучили «{title}» по предмету «{material.subject}» ваших недавних уроков",
                        "en": f"You have not studied «{title}» yet, in «{material.subject}» from your recent lessons"}}


def build(state: StudentState, ruleset: Any, today: date, last_review: date | None,
          materials: list[Material]) -> list[dict[str, Any]]:
    """The recommendations in order of urgency; each carries its reasons in ru and en."""
    items: list[dict[str, Any]] = []
    if days := state.streak_at_risk(today):
        items.append(streak_item(days))
    items += [achievement_item(c) for c in closest_achievements(state, ruleset, CLOSEST, today=today)]
    if last_review is not None and last_review < today:
        items.append(dictionary_item(last_review))
    items += [material_item(m) for m in materials]
    return items


async def recommend(uow: UnitOfWork, game: Gamification, viewer: Principal, student_id: uuid.UUID,
                    locale: str | None, *, recent_lessons: int) -> list[dict[str, Any]]:
    async with uow.read_only():
        await visible_student(uow, viewer, student_id)
        state = await progress.load_state(uow.session, student_id) or StudentState()
        ruleset, _ = await game.book.active(uow.session)
        tz, today = await student_today(uow, student_id)
        lang = await student_locale(uow, student_id, locale)
        last_review = await _last_review(uow, student_id)
        subjects = await _recent_subjects(uow, student_id, recent_lessons)
        materials = await people.unstudied_materials(uow.session, student_id, subjects, MATERIALS)
        local_review = last_review.astimezone(zone(tz)).date() if last_review else None
        items = build(state, ruleset, today, local_review, materials)
    return [{**item, "reason": item["reasons"][lang]} for item in items]


async def _last_review(uow: UnitOfWork, student_id: uuid.UUID) -> datetime | None:
    return await uow.session.scalar(
        select(FactRow.occurred_at)
        .where(FactRow.student_id == student_id, FactRow.type == "dictionary.card_reviewed")
        .order_by(FactRow.seq.desc()).limit(1))


async def _recent_subjects(uow: UnitOfWork, student_id: uuid.UUID, lessons: int) -> list[str]:
    payloads = await uow.session.scalars(
        select(FactRow.payload)
        .where(FactRow.student_id == student_id, FactRow.type == "lesson.completed")
        .order_by(FactRow.seq.desc()).limit(lessons))
    subjects = [str(p["subject"]) for p in payloads if isinstance(p, dict) and p.get("subject")]
    return list(dict.fromkeys(subjects))
