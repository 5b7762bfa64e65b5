"""The student service's batch transaction alone, CPU per event, this tree against another:

    python -m bench.student_batch --baseline DIR [--rounds 6] [--batches 60] [--batch-size 50]

What the service's consumer does for a batch of `lesson.completed` (claim the inbox rows, lock the
states, run the engine, stage and write facts, ledger, achievements, outbox rows and states, commit,
update the leaderboards), run in a process of its own on real PostgreSQL and Redis, without
RabbitMQ. Each round runs this tree's code and the code of the tree in DIR (`--baseline`) in turn,
each on a fresh database, and reports the process CPU time per event of the timed batches (after
warm-up batches that give every student a state row). On a shared machine this is steadier than
the whole pipeline's figures, whose batch sizes follow the load.

Starts its own throw-away PostgreSQL, RabbitMQ and Redis on loopback (as the test suite does).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


async def worker(url: str, redis_url: str, students: int, batches: int, batch_size: int) -> dict[str, float]:
    """Runs against whichever `services` and `shared` are on the path: only interfaces both trees have."""
    import inspect

    from redis.asyncio import Redis
    from sqlalchemy.ext.asyncio import async_sessionmaker

    from services.student import service
    from services.student.app import SPEC
    from services.student.leaderboards import Leaderboards
    from services.student.rulebook import RuleBook, seed_default
    from services.student.settings import StudentSettings
    from services.student.state import zone
    from shared.db import UnitOfWork, make_engine
    from shared.events import LessonCompleted, make_event
    from shared.inbox import claim
    from shared.migrations import alembic_config, upgrade

    engine = make_engine(url, pool_size=2)
    await upgrade(engine, alembic_config("student", SPEC.versions_dir, SPEC.metadata))
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    settings = StudentSettings()
    async with sessions() as session, session.begin():
        await seed_default(session)
    book = RuleBook(settings)
    async with sessions() as session:
        await book.refresh(session)
    redis = Redis.from_url(redis_url)
    boards = Leaderboards(redis, sessions, zone=zone(settings.platform_timezone), ttl_seconds=3600,
                          prefix=f"bench-{uuid.uuid4().hex[:6]}")
    game = service.Gamification(book, boards)
    ids = [uuid.uuid4() for _ in range(students)]
    now = datetime.now(UTC)

    def batch(number: int) -> list:
        return [make_event(LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=uuid.uuid4(),
                                           student_id=ids[(number * batch_size + i) % students], subject="maths",
                                           starts_at=now - timedelta(hours=1), duration_minutes=60, score=50),
                           producer="lesson") for i in range(batch_size)]
    background = {"background": None} if "background" in inspect.signature(UnitOfWork).parameters else {}

    async def run(events: list) -> None:
        async with UnitOfWork(sessions, producer="student", **background) as uow:
            await claim(uow.session, [(event.id, "student.on_learning_events") for event in events])
            await service.record_facts(uow, game, events)
            await uow.commit()

    warm = [batch(n) for n in range(-(students // batch_size), 0)]
    timed = [batch(n) for n in range(batches)]
    for events in warm:
        await run(events)
    from shared.runtime import tune_gc
    tune_gc()   # as the service does once it has started: else full collections walk the start-up heap
    started, wall = time.process_time(), time.perf_counter()
    for events in timed:
        await run(events)
    spent, elapsed = time.process_time() - started, time.perf_counter() - wall
    await redis.aclose()
    await engine.dispose()
    return {"cpu_ms_per_event": spent * 1000 / (batches * batch_size), "events_per_s": batches * batch_size / elapsed}


def run_tree(tree: Path, servers, args: argparse.Namespace) -> dict[str, float]:
    url = servers.create_database(f"bench_batch_{uuid.uuid4().hex[:6]}")
    env = {**os.environ, **servers.env(), "PYTHONPATH": str(tree), "REPITBOT_MODE": "mesh", "ENVIRONMENT": "test",
           "LOG_LEVEL": "WARNING"}
    done = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--worker", url, servers.redis_url,
                           str(args.students), str(args.batches), str(args.batch_size)],
                          env=env, cwd=tempfile.gettempdir(), capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(done.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(args: argparse.Namespace) -> None:
    from tests.servers import start_servers, stop_servers

    base = Path(tempfile.mkdtemp(prefix="repitbot-bench-"))
    servers = start_servers(base)
    trees = {"this tree": ROOT, f"baseline {args.baseline}": args.baseline.resolve()}
    spent: dict[str, list[float]] = {name: [] for name in trees}
    try:
        for round_ in range(1, args.rounds + 1):
            for name, tree in (list(trees.items()) if round_ % 2 else list(reversed(trees.items()))):
                result = run_tree(tree, servers, args)
                spent[name].append(result["cpu_ms_per_event"])
                print(f"round {round_} {name:40s} {result['cpu_ms_per_event']:.3f} ms CPU per event "
                      f"({result['events_per_s']:.0f} events/s)", flush=True)
    finally:
        stop_servers()
        shutil.rmtree(base, ignore_errors=True)
    for name, values in spent.items():
        print(f"{name:40s} median {statistics.median(values):.3f} ms (min {min(values):.3f}, "
              f"max {max(values):.3f})")
    mine, theirs = (statistics.median(values) for values in spent.values())
    print(f"this tree / baseline: {mine / theirs:.3f}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--worker"]:
        url, redis_url, students, batches, size = sys.argv[2:7]
        print(json.dumps(asyncio.run(worker(url, redis_url, int(students), int(batches), int(size)))))
        raise SystemExit(0)
    parser = argparse.ArgumentParser()
    parser.add_argument("--baseline", type=Path, required=True, help="a checkout of the commit to compare with")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--students", type=int, default=500)
    parser.add_argument("--batches", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=50)
    compare(parser.parse_args())
