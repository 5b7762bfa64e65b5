"""Changing the rule set: validate, dry run against the stored history, apply with retroactive
awards for every student (never revoking), a batch of students per transaction."""
from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.student import metrics, progress
from services.student.engine import StudentState, dry_run
from services.student.models import RuleSetVersion, StudentStateRow
from services.student.rulebook import latest_version, store_version
from services.student.ruleset import RuleSet, RuleSetInvalid
from services.student.service import Gamification, catch_up
from services.student.validation import observations_changed, validate_rules
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import Conflict, Unprocessable
from shared.events import utcnow

log = logging.getLogger(__name__)
UowFactory = Callable[[], UnitOfWork]


def public(row: RuleSetVersion) -> dict[str, Any]:
    return {"version": row.version, "created_at": row.created_at, "created_by": row.created_by,
            "rules": row.document}


async def current_rules(uow: UnitOfWork) -> dict[str, Any]:
    async with uow.read_only():
        return public(await latest_version(uow.session))


async def _proposal(uow_factory: UowFactory, game: Gamification, data: Any) -> tuple[RuleSet, RuleSet]:
    """(the active rule set, the proposed one numbered as the next version); 422 when invalid."""
    async with uow_factory().read_only() as uow:
        await game.book.refresh(uow.session)
        active, _ = await game.book.active(uow.session)
    try:
        return active, validate_rules(data, active.version + 1)
    except RuleSetInvalid as invalid:
        raise Unprocessable("The rule set is invalid", errors=invalid.errors) from None


async def dry_run_rules(uow_factory: UowFactory, game: Gamification, data: Any, *, batch: int) -> dict[str, Any]:
    """Who would gain which achievements and how much XP under the proposed rules; changes nothing."""
    active, proposed = await _proposal(uow_factory, game, data)
    curve, recount, now = game.book.curve_of(proposed), observations_changed(active, proposed), utcnow()
    report: list[dict[str, Any]] = []
    checked = 0
    async for ids in _student_batches(uow_factory, batch):
        async with uow_factory().read_only() as uow:
            rows = await uow.session.execute(select(StudentStateRow.student_id, StudentStateRow.state)
                                             .where(StudentStateRow.student_id.in_(ids)))
            states = {row.student_id: StudentState.from_dict(row.state) for row in rows}
            facts = await progress.facts_by_student(uow.session, ids) if recount else {}
        checked += len(states)
        report += dry_run(facts, states, proposed, curve, now=now)
    return {"version": active.version, "proposed_version": proposed.version, "students_checked": checked,
            "items": report}


async def apply_rules(uow_factory: UowFactory, game: Gamification, admin: Principal, data: Any, *,
                      expected_version: int | None, batch: int) -> dict[str, Any]:
    """Store the proposed rules as the next version, then award retroactively."""
    active, proposed = await _proposal(uow_factory, game, data)
    if expected_version is not None and expected_version != active.version:
        raise Conflict(f"The active rule set is version {active.version}, not {expected_version}")
    async with uow_factory() as uow:
        stored = public(await store_version(uow.session, proposed, admin.id))
        try:
            await uow.commit()
        except IntegrityError as exc:
            raise Conflict("Another rule change was applied at the same time; reload and retry") from exc
    game.book.use(proposed)
    metrics.RULE_CHANGES.inc()
    log.info("rule set version %d applied by %s", proposed.version, admin.id)
    awarded = await award_everyone(uow_factory, game, proposed, previous=active, batch=batch)
    return {**stored, "retroactive": awarded}


async def award_everyone(uow_factory: UowFactory, game: Gamification, ruleset: RuleSet, *,
                         previous: RuleSet | None, batch: int, now: datetime | None = None) -> dict[str, Any]:
    """Catch every student judged under an older version up with `ruleset`. Resumable and safe to
    run on several instances at once: a student already caught up is skipped under their row lock."""
    curve, now = game.book.curve_of(ruleset), now or utcnow()
    recount = previous is None or observations_changed(previous, ruleset)
    items: list[dict[str, Any]] = []
    checked = 0
    async for ids in _student_batches(uow_factory, batch, behind=ruleset.version):
        async with uow_factory() as uow:
            facts = await progress.facts_by_student(uow.session, ids) if recount else {}
            changes = progress.Changes()
            for student_id, state in (await progress.lock_states(uow.session, ids)).items():
                outcome = await catch_up(uow, changes, student_id, state, ruleset, curve, now=now,
                                         facts=facts.get(student_id, []))
                if not outcome.is_empty:
                    items.append({"student_id": student_id, "xp_gained": outcome.xp_gained,
                                  "achievements_gained": [a.code for a in outcome.achievements]})
            changes.stage(uow, game.boards.add)
            await uow.commit()
        checked += len(ids)
    return {"students_checked": checked, "students_awarded": len(items),
            "achievements_awarded": sum(len(i["achievements_gained"]) for i in items),
            "xp_awarded": sum(i["xp_gained"] for i in items), "items": items}


async def catch_up_everyone(uow_factory: UowFactory, game: Gamification, *, batch: int) -> int:
    """Finish a rule change an instance stopped in the middle of (run at start-up and now and then)."""
    async with uow_factory().read_only() as uow:
        await game.book.refresh(uow.session)
        ruleset, _ = await game.book.active(uow.session)
        behind = await uow.session.scalar(select(StudentStateRow.student_id)
                                          .where(StudentStateRow.ruleset_version < ruleset.version).limit(1))
    if behind is None:
        return 0
    summary = await award_everyone(uow_factory, game, ruleset, previous=None, batch=batch)
    return summary["students_checked"]


async def _student_batches(uow_factory: UowFactory, size: int, *, behind: int | None = None
                           ) -> AsyncIterator[list[uuid.UUID]]:
    """Student ids in ascending order (the order rows are locked in), `size` at a time."""
    after: uuid.UUID | None = None
    while True:
        query = select(StudentStateRow.student_id).order_by(StudentStateRow.student_id).limit(size)
        if behind is not None:
            query = query.where(StudentStateRow.ruleset_version < behind)
        if after is not None:
            query = query.where(StudentStateRow.student_id > after)
        async with uow_factory().read_only() as uow:
            ids = list(await uow.session.scalars(query))
        if not ids:
            return
        yield ids
        after = ids[-1]
