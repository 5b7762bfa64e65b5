"""`repitbot replay-student`: replay students' facts without starting the service (no consumer, no
HTTP), in either mode. Outgoing events wait in the outbox; in mesh mode they are relayed at once,
in embedded mode the platform's relay sends them when it runs."""
from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from services.student.app import SPEC
from services.student.leaderboards import Leaderboards
from services.student.replay import replay_students
from services.student.rulebook import RuleBook, seed_default
from services.student.service import Gamification
from services.student.settings import StudentSettings
from services.student.state import zone
from shared.background import Background
from shared.db import UnitOfWork, make_engine
from shared.errors import NotFound
from shared.migrations import alembic_config, upgrade
from shared.outbox import OutboxRelay
from shared.runtime import make_runtime


async def replay_command(student_id: str | None, *, dry_run: bool,
                         settings: StudentSettings | None = None) -> tuple[list[str], bool]:
    """Report lines, and False when a dry run found a state that replay does not reproduce."""
    settings = settings or StudentSettings()
    ids = None if student_id is None else [_student_id(student_id)]
    url = settings.database_url_for("student")
    if url.startswith("sqlite"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url, pool_size=2)
    runtime = make_runtime(settings)
    try:
        await upgrade(engine, alembic_config("student", SPEC.versions_dir, SPEC.metadata))
        sessions = async_sessionmaker(engine, expire_on_commit=False)
        game = await _game(settings, sessions, runtime.redis)
        background = Background("student")
        try:
            reports = await replay_students(lambda: UnitOfWork(sessions, producer="student", background=background),
                                            game, ids, dry_run=dry_run)
        except NotFound as missing:
            raise SystemExit(str(missing)) from None
        finally:
            await background.close()
        if settings.mode == "mesh":
            relay = OutboxRelay(sessions, runtime.bus, service="student")
            while await relay.relay_once():
                pass
    finally:
        await runtime.close()
        await engine.dispose()
    return [describe(r) for r in reports] + [summary(reports, dry_run)], all(r["equal"] for r in reports) or not dry_run


def _student_id(text: str) -> uuid.UUID:
    try:
        return uuid.UUID(text)
    except ValueError:
        raise SystemExit(f"not a student id: {text!r}") from None


async def _game(settings: StudentSettings, sessions: async_sessionmaker, redis: Any) -> Gamification:
    book = RuleBook(settings)
    async with sessions() as session, session.begin():
        await seed_default(session)
    async with sessions() as session:
        await book.refresh(session)
    boards = Leaderboards(redis, sessions, zone=zone(settings.platform_timezone),
                          ttl_seconds=settings.leaderboard_ttl_seconds, prefix=settings.leaderboard_key_prefix)
    return Gamification(book, boards)


def describe(report: dict[str, Any]) -> str:
    stored, rebuilt = report["stored"], report["rebuilt"]
    verdict = "equal" if report["equal"] else "differs in " + ", ".join(report["differences"])
    line = (f"{report['student_id']}  {verdict}  xp {stored['xp']} / replayed {rebuilt['xp']}  "
            f"level {stored['level']} / {rebuilt['level']}  achievements {len(stored['achievements'])} / "
            f"{len(rebuilt['achievements'])}")
    if report.get("repaired"):
        awarded = report["awarded"]
        line += f"  repaired (+{awarded['xp']} XP, new: {', '.join(awarded['achievements']) or 'none'})"
    return line


def summary(reports: list[dict[str, Any]], dry_run: bool) -> str:
    differ = sum(not r["equal"] for r in reports)
    repaired = sum(bool(r.get("repaired")) for r in reports)
    text = f"{len(reports)} student(s): {len(reports) - differ} equal, {differ} differ"
    return text + (" (dry run: nothing changed)" if dry_run else f", {repaired} repaired")
