"""The event store on the real servers: a queue bound to `#` stores every event once, whatever its
type, duplicates and unreadable payloads included; the read models that live consumption built
are the ones `rebuild` builds from the store."""
from __future__ import annotations

import random
import uuid

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from services.analytics.models import LessonFact, MoneyEntry, StoredEvent
from services.analytics.projection import rebuild
from shared.events import Event
from tests.integration.analytics.conftest import read_models
from tests.integration.analytics.history import START, teacher_history
from tests.support import eventually


def stored(metric_type: str) -> float:
    return REGISTRY.get_sample_value("repitbot_analytics_events_stored_total", {"type": metric_type}) or 0.0


async def test_every_event_is_stored_once_and_rebuild_gives_the_live_read_models(analytics):
    history = list(teacher_history(random.Random(17), students=4, weeks=6))
    strange = Event(type="invoice.issued", producer="billing", payload={"invoice_id": str(uuid.uuid4())})
    unreadable = Event(type="lesson.completed", producer="lesson", occurred_at=START,
                       payload={"lesson_id": "not a uuid"})
    before = stored("lesson.completed")
    await analytics.bus.publish(history[:40])
    await analytics.bus.publish([*history[40:], strange, unreadable, *history[:25]])   # some twice
    ids = {event.id for event in [*history, strange, unreadable]}
    sessions = analytics.app.state.session_factory

    async def all_stored() -> bool:
        async with sessions() as session:
            count = await session.scalar(select(func.count()).select_from(StoredEvent)
                                         .where(StoredEvent.event_id.in_(ids)))
        return count == len(ids)
    await eventually(all_stored, timeout=60)

    async with sessions() as session:
        rows = (await session.execute(select(StoredEvent.type, StoredEvent.producer, StoredEvent.teacher_id,
                                             StoredEvent.correlation_id).where(StoredEvent.event_id == history[5].id)
                                      )).one()
        completed = await session.scalar(select(func.count()).select_from(LessonFact)
                                         .where(LessonFact.status == "completed"))
        refunds = await session.scalar(select(func.count()).select_from(MoneyEntry).where(MoneyEntry.kind == "refund"))
    assert rows == (history[5].type, history[5].producer, uuid.UUID(history[5].payload.get("teacher_id"))
                    if "teacher_id" in history[5].payload else None, history[5].correlation_id)
    assert completed == sum(1 for e in history if e.type == "lesson.completed")
    assert refunds == sum(1 for e in history if e.type == "payment.refunded")
    assert stored("lesson.completed") - before == completed + 1      # the unreadable one is kept too

    live = await read_models(sessions)
    assert live["lesson_facts"] and live["homework_facts"] and live["activity"]
    assert await rebuild(sessions, chunk=37) >= len(ids)   # small chunks: cut elsewhere than the live batches
    assert await read_models(sessions) == live
