import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from services.student import api, rule_changes
from services.student.handlers import student_handlers
from services.student.leaderboards import Leaderboards
from services.student.models import StudentBase
from services.student.rulebook import RuleBook, seed_default
from services.student.service import Gamification
from services.student.settings import StudentSettings
from services.student.state import zone
from shared.app import ServiceSpec, create_service_app
from shared.inbox import Consumer
from shared.runtime import Runtime

log = logging.getLogger(__name__)
CATCH_UP_INTERVAL = 60.0
QUEUE = "student.events"

async def start_gamification(app: FastAPI) -> None:
    """Seed the rule set when none is stored, load it, set up the leaderboards, and consume
    `student.events` (learning events reach the engine a batch at a time)."""
    settings: StudentSettings = app.state.settings
    async with app.state.uow_factory() as uow:
        await seed_default(uow.session)
        await uow.commit()
    book = RuleBook(settings)
    async with app.state.uow_factory() as uow:
        await book.refresh(uow.session)
    boards = Leaderboards(app.state.runtime.redis, app.state.session_factory,
                          zone=zone(settings.platform_timezone), ttl_seconds=settings.leaderboard_ttl_seconds,
                          prefix=settings.leaderboard_key_prefix)
    app.state.game = game = Gamification(book, boards)
    handlers = student_handlers(game)
    await app.state.runtime.bus.subscribe(QUEUE, handlers.routing_keys, Consumer(
        "student", app.state.uow_factory, handlers, max_batch=settings.event_batch_size))


async def finish_rule_changes(app: FastAPI) -> None:
    """Award what an interrupted rule change left unawarded: at start-up, then now and then."""
    settings: StudentSettings = app.state.settings
    while True:
        try:
            await rule_changes.catch_up_everyone(app.state.uow_factory, app.state.game,
                                                 batch=settings.retroactive_batch_size)
        except asyncio.CancelledError:
            raise
        except Exception:  # boundary: a background loop logs and tries again later
            log.exception("catching students up with the rule set failed; retrying later")
        await asyncio.sleep(CATCH_UP_INTERVAL)


SPEC = ServiceSpec(
    name="student",
    metadata=StudentBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=StudentSettings,
    routers=[api.router],
    on_startup=[start_gamification],
    background=[finish_rule_changes],
)


def create_app(settings: StudentSettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or StudentSettings(), runtime)
