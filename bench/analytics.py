"""The analytics service at scale, on PostgreSQL:

    python -m bench.analytics [--teachers 100] [--students 20] [--weeks 47] [--live 20000] [--calls 300]

1. Setup: the histories of `--teachers` teachers (tests/integration/analytics/history.py; about
   10,000 events each with the defaults, 1,000,000 in all) are bulk-loaded into the event store
   with COPY, then `rebuild` replays the store into the read models: the replay rate.
2. Live ingest: `--live` more events (new teachers) go through the service's consumer path without
   RabbitMQ: the shared batched consumer (inbox claims, batches of EVENT_BATCH_SIZE) calling the
   analytics batch handler (store + read models), the events handed over as fast as it takes them.
3. The teacher overview (`service.overview_of`, in-process, no HTTP) of random teachers over the
   last 12 weeks of their data, `--calls` times after a warm-up: p50, p95, p99.

Starts its own throw-away PostgreSQL, RabbitMQ and Redis on loopback (as the test suite does),
unless `--database-url` names an empty PostgreSQL database.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import orjson


async def load(url: str, teachers: int, students: int, weeks: int) -> tuple[int, float, list[uuid.UUID]]:
    """COPY the histories into the store; the number of events, the seconds it took, the teachers."""
    import asyncpg

    from services.analytics.projection import stored_row
    from shared.events import utcnow
    from tests.integration.analytics.history import teacher_history

    columns = ("event_id", "type", "version", "producer", "occurred_at", "stored_at", "correlation_id",
               "causation_id", "teacher_id", "student_id", "payload")
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    total, ids, started = 0, [], time.perf_counter()
    try:
        for i in range(teachers):
            teacher = uuid.UUID(int=i + 1)
            ids.append(teacher)
            now = utcnow()
            records = []
            for event in teacher_history(random.Random(i), students=students, weeks=weeks, teacher_id=teacher):
                row = {**stored_row(event), "stored_at": now}
                row["payload"] = orjson.dumps(row["payload"]).decode()
                records.append(tuple(row[c] for c in columns))
            await connection.copy_records_to_table("stored_events", records=records, columns=columns)
            total += len(records)
    finally:
        await connection.close()
    return total, time.perf_counter() - started, ids


async def people(sessions, teachers: list[uuid.UUID]) -> None:
    """The people read model the histories' user.* events make (rebuild leaves it alone)."""
    from sqlalchemy import select

    from services.analytics.models import StoredEvent
    from services.analytics.people import people as roster
    from services.analytics.projection import event_of
    from shared.events import TeacherLinked, UserCreated

    async with sessions() as session, session.begin():
        rows = (await session.execute(select(StoredEvent).where(
            StoredEvent.type.in_(("user.created", "user.teacher_linked"))))).scalars().all()
        for row in rows:
            event = event_of(row)
            if event.type == "user.created":
                user = event.payload_as(UserCreated)
                await roster.record_user(session, user.user_id, {"role": user.role, "full_name": user.full_name,
                                                                 "timezone": user.timezone}, overwrite=False)
            else:
                link = event.payload_as(TeacherLinked)
                await roster.link_teacher(session, link.teacher_id, link.student_id)


async def live_rate(sessions, n: int, batch_size: int) -> float:
    from services.analytics.handlers import analytics_handlers
    from shared.db import UnitOfWork
    from shared.inbox import Consumer
    from tests.integration.analytics.history import teacher_history

    events = []
    rng = random.Random(99)
    while len(events) < n:
        events += teacher_history(rng, students=20, weeks=10)
    events = events[:n]
    consumer = Consumer("analytics", lambda: UnitOfWork(sessions, producer="analytics"),
                        analytics_handlers(None), max_batch=batch_size)  # type: ignore[arg-type]  # the handlers use no deps
    started = time.perf_counter()
    await asyncio.gather(*(consumer(event) for event in events))
    return n / (time.perf_counter() - started)


async def overview_latency(sessions, teachers: list[uuid.UUID], calls: int) -> list[float]:
    from sqlalchemy import func, select

    from services.analytics import service
    from services.analytics.models import LessonFact
    from shared.auth import Principal
    from shared.db import UnitOfWork

    async with sessions() as session:
        last = await session.scalar(select(func.max(LessonFact.starts_at)))
    end = last + timedelta(days=1)
    start = end - timedelta(weeks=12)
    rng = random.Random(7)
    timings = []
    for i in range(calls + 20):
        teacher = rng.choice(teachers)
        uow = UnitOfWork(sessions, producer="analytics")
        principal = Principal(id=teacher, role="teacher", jti="bench", expires_at=0)
        began = time.perf_counter()
        viewer = await service.viewer_of(uow, principal)
        overview = await service.overview_of(uow, viewer, start, end, now=end)
        elapsed = time.perf_counter() - began
        assert overview.totals.lessons > 0
        if i >= 20:
            timings.append(elapsed * 1000)
    return timings


async def run(url: str, args: argparse.Namespace) -> None:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.analytics.app import SPEC
    from services.analytics.projection import rebuild
    from shared.db import make_engine
    from shared.migrations import alembic_config, upgrade

    engine = make_engine(url, pool_size=4)
    await upgrade(engine, alembic_config("analytics", SPEC.versions_dir, SPEC.metadata))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    stored, load_seconds, teachers = await load(url, args.teachers, args.students, args.weeks)
    print(f"event store: {stored} events of {args.teachers} teachers, COPY in {load_seconds:.1f} s "
          f"({stored / load_seconds:,.0f} events/s, generation included)")
    await people(sessions, teachers)
    started = time.perf_counter()
    replayed = await rebuild(sessions, chunk=5000)
    seconds = time.perf_counter() - started
    print(f"rebuild: {replayed} events replayed into the read models in {seconds:.1f} s "
          f"({replayed / seconds:,.0f} events/s)")
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))
    rate = await live_rate(sessions, args.live, args.batch)
    print(f"live ingest (shared batched consumer, inbox + store + read models, batches of <= {args.batch}): "
          f"{rate:,.0f} events/s over {args.live} events")
    timings = sorted(await overview_latency(sessions, teachers, args.calls))
    q = statistics.quantiles(timings, n=100)
    print(f"teacher overview, 12 weeks, {args.calls} calls: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
          f"p99 {q[98]:.1f} ms, max {timings[-1]:.1f} ms")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teachers", type=int, default=100)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=47)
    parser.add_argument("--live", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://...)")
    args = parser.parse_args()
    if args.database_url:
        asyncio.run(run(args.database_url, args))
        return
    from tests.servers import start_servers, stop_servers
    servers = start_servers(Path(tempfile.mkdtemp(prefix="repitbot-bench-")))
    try:
        asyncio.run(run(servers.create_database(f"bench_analytics_{uuid.uuid4().hex[:6]}"), args))
    finally:
        stop_servers()


if __name__ == "__main__":
    main()
