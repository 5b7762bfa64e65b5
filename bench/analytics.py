"""The analytics service at scale, on PostgreSQL:

    python -m bench.analytics [--teachers 100] [--students 20] [--weeks 47] [--live 20000] [--calls 300]
    python -m bench.analytics --baseline DIR [--rounds 6] [--calls 100] [--live 0] [--database-url URL --seeded]

Fewer `--teachers` (or `--weeks`) seed faster for quick iterations; `--live 0` skips the ingest.
With `--baseline DIR` (another commit, e.g. `git archive <commit> | tar -x -C DIR`) the overview of
this tree and the one of DIR take turns (`bench/compare.py`), each in its own process, on the same
data; the indexes of BASELINE_LACKS are dropped for the baseline's rounds. `--database-url URL
--seeded` measures a database an earlier run seeded (the servers of that run must still be up).

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
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import orjson

# indexes added since the first overview: the baseline's rounds run without them
BASELINE_LACKS = ("ix_homework_facts_student_graded",)


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


async def overview_latency(sessions, teachers: list[uuid.UUID], calls: int, url: str,
                           warmup: int = 20) -> dict[str, list[float]]:
    """Milliseconds of wall clock and of this process's CPU per overview call (the viewer read
    included), `calls` calls of random teachers after `warmup` more."""
    from sqlalchemy import func, select

    from services.analytics import service
    from services.analytics.models import LessonFact
    from services.analytics.settings import AnalyticsSettings
    from shared.auth import Principal
    from shared.db import UnitOfWork

    async with sessions() as session:
        last = await session.scalar(select(func.max(LessonFact.starts_at)))
    end = last + timedelta(days=1)
    start = end - timedelta(weeks=12)
    settings = AnalyticsSettings(mode="mesh", environment="test", database_url=url)
    rng = random.Random(7)
    timings: dict[str, list[float]] = {"overview": [], "overview cpu": []}
    for i in range(calls + warmup):
        teacher = rng.choice(teachers)
        uow = UnitOfWork(sessions, producer="analytics")
        principal = Principal(id=teacher, role="teacher", jti="bench", expires_at=0)
        began, cpu = time.perf_counter(), time.process_time()
        if hasattr(service, "overview_for"):   # one transaction for the viewer and the overview
            overview = await service.overview_for(uow, principal, start, end, None, settings, now=end)
        else:
            viewer = await service.viewer_of(uow, principal)
            overview = await service.overview_of(uow, viewer, start, end, now=end)
        elapsed, spent = time.perf_counter() - began, time.process_time() - cpu
        assert overview.totals.lessons > 0
        if i >= warmup:
            timings["overview"].append(elapsed * 1000)
            timings["overview cpu"].append(spent * 1000)
    return timings


async def worker(args: argparse.Namespace) -> None:
    """The overview part alone, on the code of the tree in PYTHONPATH, against a seeded database."""
    from sqlalchemy.ext.asyncio import async_sessionmaker

    import services
    from shared.db import make_engine

    engine = make_engine(args.database_url, pool_size=4)
    teachers = [uuid.UUID(int=i + 1) for i in range(args.teachers)]
    timings = await overview_latency(async_sessionmaker(engine, expire_on_commit=False), teachers, args.calls,
                                     args.database_url)
    await engine.dispose()
    print(f"code of {Path(services.__file__).resolve().parent.parent}", file=sys.stderr)
    print(orjson.dumps(timings).decode())


async def new_indexes(url: str) -> dict[str, str]:
    """The indexes this tree's migrations add to the overview's tables that the baseline may not
    have: name -> definition (dropped for the baseline's rounds, created again for this tree's)."""
    import asyncpg
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await connection.fetch("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1)",
                                      list(BASELINE_LACKS))
    finally:
        await connection.close()
    return {row["indexname"]: row["indexdef"] for row in rows}


def compare_overview(url: str, args: argparse.Namespace, indexes: dict[str, str]) -> None:
    """This tree's overview against the baseline's, in alternating rounds of `--calls` calls."""
    import asyncpg

    from bench.compare import alternate, report
    from bench.compare import worker as run_worker

    async def ddl(statements: list[str]) -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            for statement in statements:
                await connection.execute(statement)
        finally:
            await connection.close()

    def prepare(name: str) -> None:
        if name == "old":
            asyncio.run(ddl([f"DROP INDEX IF EXISTS {index}" for index in indexes]))
        else:
            asyncio.run(ddl([definition.replace("CREATE INDEX", "CREATE INDEX IF NOT EXISTS")
                             for definition in indexes.values()]))

    results = alternate(args.baseline, args.rounds, lambda name, tree: run_worker(
        Path(__file__), tree, ["--database-url", url, "--teachers", str(args.teachers), "--calls", str(args.calls)]),
        prepare)
    prepare("new")
    print(f"teacher overview, 12 weeks, {args.rounds} rounds of {args.calls} calls per tree "
          f"(old: {args.baseline}, without {', '.join(indexes) or 'no index'}):")
    report(results)


async def seed(url: str, engine, sessions, args: argparse.Namespace) -> None:
    """The event store bulk-loaded, the people read model, the replay into the read models."""
    from sqlalchemy import text

    from services.analytics.projection import rebuild

    stored, load_seconds, teachers = await load(url, args.teachers, args.students, args.weeks)
    print(f"event store: {stored} events of {args.teachers} teachers, COPY in {load_seconds:.1f} s "
          f"({stored / load_seconds:,.0f} events/s, generation included)", flush=True)
    await people(sessions, teachers)
    started = time.perf_counter()
    replayed = await rebuild(sessions, chunk=5000)
    seconds = time.perf_counter() - started
    print(f"rebuild: {replayed} events replayed into the read models in {seconds:.1f} s "
          f"({replayed / seconds:,.0f} events/s)", flush=True)
    async with engine.begin() as connection:
        await connection.execute(text("ANALYZE"))


async def run(url: str, args: argparse.Namespace) -> None:
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.analytics.app import SPEC
    from shared.db import make_engine
    from shared.migrations import alembic_config, upgrade

    engine = make_engine(url, pool_size=4)
    await upgrade(engine, alembic_config("analytics", SPEC.versions_dir, SPEC.metadata))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    if not args.seeded:
        await seed(url, engine, sessions, args)
    teachers = [uuid.UUID(int=i + 1) for i in range(args.teachers)]   # as `load` numbers them
    if args.live:
        rate = await live_rate(sessions, args.live, args.batch)
        print(f"live ingest (shared batched consumer, inbox + store + read models, batches of <= {args.batch}): "
              f"{rate:,.0f} events/s over {args.live} events")
    if args.baseline is None:
        measured = await overview_latency(sessions, teachers, args.calls, url)
        for name, timings in measured.items():
            q = statistics.quantiles(timings, n=100)
            print(f"teacher {name}, 12 weeks, {args.calls} calls: p50 {q[49]:.1f} ms, p95 {q[94]:.1f} ms, "
                  f"p99 {q[98]:.1f} ms, max {max(timings):.1f} ms")
    indexes = await new_indexes(url)
    await engine.dispose()
    if args.baseline is not None:
        await asyncio.to_thread(compare_overview, url, args, indexes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teachers", type=int, default=100)
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--weeks", type=int, default=47)
    parser.add_argument("--live", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url", help="an empty PostgreSQL database (postgresql+asyncpg://...)")
    parser.add_argument("--baseline", type=Path, help="compare the overview with the code of the tree in this "
                        "directory (another commit, extracted), in alternating rounds on the same data")
    parser.add_argument("--rounds", type=int, default=6, help="rounds per tree with --baseline")
    parser.add_argument("--seeded", action="store_true", help="the database of --database-url is already seeded "
                        "(by an earlier run with the same --teachers): measure only")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args))
        return
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
