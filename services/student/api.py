"""Thin routes of the student service: progress, leaderboards, recommendations, rules."""
from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query

from services.student import recommendations, rule_changes, service
from services.student.deps import DepsDep
from services.student.schemas import (
    AchievementList,
    AppliedRulesPublic,
    DryRunPublic,
    LeaderboardPublic,
    ProfilePublic,
    RecommendationList,
    RulesPublic,
    XpEntryPublic,
    XpHistory,
)
from shared.app import UowDep, UowFactoryDep
from shared.auth import CurrentUser, Principal, require_roles
from shared.pagination import Page, PageDep

router = APIRouter(tags=["student progress"])
ADMIN = require_roles("admin")
IF_MATCH = r'^(W/)?"?[0-9]{1,18}"?$'
IF_MATCH_FORMS = '`<version>`, `"<version>"` or `W/"<version>"`'
Locale = Annotated[Literal["ru", "en"] | None, Query(description="language of titles and reasons")]
RuleDocument = Annotated[dict[str, Any], Body(description="a rule set, as in rules/default.yaml (version is assigned)")]


def preferred(locale: str | None, accept_language: str | None) -> str | None:
    """The `locale` asked for, else the first of ru/en in Accept-Language, else None (the student's own)."""
    if locale:
        return locale
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip()[:2].lower()
        if tag in ("ru", "en"):
            return tag
    return None


AcceptLanguage = Annotated[str | None, Header(max_length=200)]


@router.get("/api/v1/students/{student_id}/profile", response_model=ProfilePublic)
async def get_profile(student_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep) -> ProfilePublic:
    """XP, level and progress inside it, streaks, achievements earned: self, linked teacher or parent, admin."""
    return await service.get_profile(uow, deps.game, user, student_id)


@router.get("/api/v1/students/{student_id}/achievements", response_model=AchievementList)
async def list_achievements(student_id: uuid.UUID, user: CurrentUser, uow: UowDep, deps: DepsDep,
                            locale: Locale = None, accept_language: AcceptLanguage = None) -> AchievementList:
    """Every visible achievement with `earned_at` (or null) and `progress`; hidden ones once earned."""
    items = await service.list_achievements(uow, deps.game, user, student_id, preferred(locale, accept_language))
    return AchievementList(items=items)


@router.get("/api/v1/students/{student_id}/xp-history", response_model=XpHistory)
async def xp_history(student_id: uuid.UUID, user: CurrentUser, uow: UowDep,
                     page: PageDep) -> Page[XpEntryPublic]:
    """The XP ledger, newest first: each entry names its source, rule and source event."""
    return await service.xp_history(uow, user, student_id, page)


@router.get("/api/v1/students/{student_id}/recommendations", response_model=RecommendationList)
async def get_recommendations(student_id: uuid.UUID, user: CurrentUser, uow: UowDep,
                              deps: DepsDep, locale: Locale = None,
                              accept_language: AcceptLanguage = None) -> dict[str, Any]:
    """What to do next, each with its reason."""
    items = await recommendations.recommend(uow, deps.game, user, student_id, preferred(locale, accept_language),
                                            recent_lessons=deps.settings.recommendation_lessons)
    return {"items": items, "next_cursor": None}


@router.get("/api/v1/leaderboards", response_model=LeaderboardPublic)
async def get_leaderboard(user: CurrentUser, uow: UowDep, deps: DepsDep, page: PageDep,
                          period: Literal["week", "month", "all"] = "week",
                          scope: Literal["global", "teacher"] = "global",
                          teacher_id: uuid.UUID | None = None) -> LeaderboardPublic:
    """Students ranked by XP in the current ISO week, month (platform time zone) or all time;
    `scope=teacher` ranks a teacher's linked students (the caller's, or a student's teacher);
    an admin or a parent names the teacher with `teacher_id` (422 without it)."""
    return await service.leaderboard(uow, deps.game, user, period=period, scope=scope, teacher_id=teacher_id,
                                     page=page)


@router.get("/api/v1/gamification/rules", response_model=RulesPublic, dependencies=[ADMIN])
async def get_rules(uow: UowDep) -> dict[str, Any]:
    """The active rule set and its version."""
    return await rule_changes.current_rules(uow)


@router.put("/api/v1/gamification/rules", response_model=AppliedRulesPublic | DryRunPublic)
async def put_rules(document: RuleDocument, deps: DepsDep, uows: UowFactoryDep,
                    admin: Annotated[Principal, ADMIN], dry_run: bool = False,
                    if_match: Annotated[str, Header(pattern=IF_MATCH, description=IF_MATCH_FORMS)] = None,  # noqa: RUF013 (absent, never null, in the document)
                    ) -> dict[str, Any]:
    """Validate (422 lists every error), then apply as the next version and award retroactively
    (`achievement.earned` for each, never revoking); `?dry_run=true` only reports who would gain
    what. `If-Match: <version>` refuses (409) when another change came first."""
    batch = deps.settings.retroactive_batch_size
    if dry_run:
        return await rule_changes.dry_run_rules(uows, deps.game, document, batch=batch)
    return await rule_changes.apply_rules(uows, deps.game, admin, document,
                                          expected_version=_version(if_match), batch=batch)


@router.post("/api/v1/gamification/rules/dry-run", response_model=DryRunPublic, dependencies=[ADMIN])
async def dry_run_rules(document: RuleDocument, deps: DepsDep, uows: UowFactoryDep) -> dict[str, Any]:
    """Who would gain which achievements and how much XP under these rules; changes nothing."""
    return await rule_changes.dry_run_rules(uows, deps.game, document,
                                            batch=deps.settings.retroactive_batch_size)


def _version(if_match: str | None) -> int | None:  # None: the header was not sent
    if if_match is None:
        return None
    return int(if_match.removeprefix("W/").strip('"'))  # the header's pattern has checked it
