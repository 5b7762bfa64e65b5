"""The student service: what it is made of (`SPEC`), its bootstrap hook and its app."""
import asyncio
import logging
from typing import cast

from services.student import api, rule_changes
from services.student.deps import StudentDeps
from services.student.handlers import student_handlers
from services.student.leaderboards import Leaderboards
from services.student.models import StudentBase
from services.student.rulebook import RuleBook, seed_default
from services.student.service import Gamification
from services.student.settings import StudentSettings
from services.student.state import zone
from shared.app import ServiceContext, ServiceSpec

log = logging.getLogger(__name__)
CATCH_UP_INTERVAL = 60.0


async def bootstrap(ctx: ServiceContext) -> StudentDeps:
    """Seed the rule set when none is stored, load it, and set up the leaderboards."""
    settings = cast(StudentSettings, ctx.settings)
    async with ctx.uow_factory() as uow:
        await seed_default(uow.session)
        await uow.commit()
    book = RuleBook(settings)
    async with ctx.uow_factory().read_only() as uow:
        await book.refresh(uow.session)
    boards = Leaderboards(ctx.runtime.redis, ctx.session_factory,
                          zone=zone(settings.platform_timezone), ttl_seconds=settings.leaderboard_ttl_seconds,
                          prefix=settings.leaderboard_key_prefix)
    return StudentDeps(settings=settings, game=Gamification(book, boards))


async def finish_rule_changes(ctx: ServiceContext, deps: StudentDeps) -> None:
    """Award what an interrupted rule change left unawarded: at start-up, then now and then."""
    while True:
        try:
            await rule_changes.catch_up_everyone(ctx.uow_factory, deps.game,
                                                 batch=deps.settings.retroactive_batch_size)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a background loop logs and tries again later
            log.exception("catching students up with the rule set failed; retrying later")
        await asyncio.sleep(CATCH_UP_INTERVAL)


SPEC = ServiceSpec(
    name="student",
    metadata=StudentBase.metadata,
    settings_class=StudentSettings,
    bootstrap=bootstrap,
    routers=[api.router],
    handlers=student_handlers,
    background=[finish_rule_changes],
)


create_app = SPEC.create_app
