"""What a link check costs the lesson service: a hit in its read model, against a miss that asks
the user service (`shared.people`), in both run modes, in one run.

    python -m bench.links [--checks 300]

- embedded: both services on SQLite, the user service reached in-process (ASGI transport);
- mesh: both on PostgreSQL (started here, as the test suite does), the user service behind
  uvicorn on a loopback port, reached over HTTP.

A hit is `People.confirm_teacher` finding the link in the lesson service's own table. A miss is
the same call for a link only the user service has: the HTTP question, the user service's read,
the answer stored; each miss is rolled back so that the next one is a miss again.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import uvicorn
from prometheus_client import REGISTRY

from services.lesson.app import create_app as create_lesson_app
from services.lesson.roster import people
from services.lesson.settings import LessonSettings
from services.user import links
from services.user.app import create_app as create_user_app
from services.user.models import User
from services.user.settings import UserSettings
from shared.bus import InMemoryBus
from shared.people import Directory
from shared.redis_factory import make_redis
from shared.runtime import Runtime
from tests.mesh import free_port

Timings = tuple[list[float], list[float]]   # wall-clock seconds, CPU seconds of this process


async def measure(lesson, directory: Directory, teacher: uuid.UUID, known: uuid.UUID, unknown: uuid.UUID,
                  checks: int) -> tuple[Timings, Timings]:
    """Per hit and per miss, interleaved so that both see the same machine. Both services run in
    this process, so its CPU time holds the user service's share of a miss (not PostgreSQL's)."""
    hits: Timings = ([], [])
    misses: Timings = ([], [])
    for _ in range(checks):
        for student, (wall, cpu) in ((known, hits), (unknown, misses)):
            async with lesson.state.uow_factory() as uow:
                started, cpu_started = time.perf_counter(), time.process_time()
                assert await people.confirm_teacher(uow.session, directory, teacher, student)
                wall.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                # leaving without commit rolls back: the unknown link stays a miss
    return hits, misses


def lookups_made() -> float:
    return REGISTRY.get_sample_value("repitbot_people_lookups_total",
                                     {"service": "lesson", "kind": "teacher", "answer": "linked"}) or 0.0


async def prepare(user, lesson) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """A teacher with two students linked in the user service, one also known to the lesson service."""
    teacher, known, unknown = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with user.state.session_factory() as session:
        session.add_all([User(id=i, email=f"{i}@bench.test", password_hash="-", full_name="Bench", role=role)
                         for i, role in ((teacher, "teacher"), (known, "student"), (unknown, "student"))])
        await session.commit()
    for student in (known, unknown):
        await links.link_teacher(user.state.uow_factory(), teacher, student)
    async with lesson.state.uow_factory() as uow:
        await people.link_teacher(uow.session, teacher, known)
        await uow.commit()
    return teacher, known, unknown


@contextlib.asynccontextmanager
async def services(user_url: str, lesson_url: str, var: Path, *, over_http: bool) -> AsyncIterator[tuple]:
    # a bus each: the user service's `user.teacher_linked` must not reach the lesson service,
    # or every miss would turn into a hit
    runtimes = [Runtime(bus=InMemoryBus(), redis=make_redis(None)) for _ in range(2)]
    common = {"environment": "test", "var_dir": var, "log_json": True, "log_level": "WARNING"}
    user = create_user_app(UserSettings(database_url=user_url, **common), runtimes[0])
    lesson = create_lesson_app(LessonSettings(database_url=lesson_url, **common), runtimes[1])
    async with user.router.lifespan_context(user), lesson.router.lifespan_context(lesson):
        if not over_http:
            yield user, lesson, Directory("lesson", lambda: ("http://user", httpx.ASGITransport(user)))
        else:
            async with served(user) as url:
                directory = Directory("lesson", lambda: (url, None))
                yield user, lesson, directory
                await directory.aclose()
    for runtime in runtimes:
        await runtime.close()


@contextlib.asynccontextmanager
async def served(app) -> AsyncIterator[str]:
    """`app` behind uvicorn on a loopback port (its lifespan already running)."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off",
                                           log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def row(mode: str, hits: Timings, misses: Timings) -> str:
    def ms(values: list[float], q: int) -> str:
        return f"{statistics.quantiles(values, n=100)[q - 1] * 1000:.2f}"

    def cpu(values: list[float]) -> str:
        return f"{statistics.fmean(values) * 1000:.2f}"
    ratio = statistics.fmean(misses[1]) / statistics.fmean(hits[1])
    return (f"| {mode} | {ms(hits[0], 50)} | {ms(hits[0], 99)} | {cpu(hits[1])} | {ms(misses[0], 50)} | "
            f"{ms(misses[0], 99)} | {cpu(misses[1])} | {ratio:.1f} |")


async def run(checks: int) -> None:
    from tests.servers import start_servers, stop_servers

    print("| mode | hit p50 ms | hit p99 ms | hit CPU ms | miss p50 ms | miss p99 ms | miss CPU ms | "
          "miss/hit CPU |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        var = Path(tmp)
        async with services(f"sqlite+aiosqlite:///{var}/user.db", f"sqlite+aiosqlite:///{var}/lesson.db",
                            var, over_http=False) as (user, lesson, directory):
            print(row("embedded (SQLite, in-process)", *await measure(lesson, directory,
                                                                      *await prepare(user, lesson), checks)))
        servers = start_servers(Path(tempfile.mkdtemp(prefix="repitbot-bench-")))
        try:
            suffix = uuid.uuid4().hex[:6]
            async with services(servers.create_database(f"bench_user_{suffix}"),
                                servers.create_database(f"bench_lesson_{suffix}"),
                                var, over_http=True) as (user, lesson, directory):
                print(row("mesh (PostgreSQL, HTTP)", *await measure(lesson, directory,
                                                                    *await prepare(user, lesson), checks)))
        finally:
            stop_servers()
    print(f"\nlinks the user service confirmed: {lookups_made():.0f} ({checks} misses in each mode)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checks", type=int, default=300)
    asyncio.run(run(parser.parse_args().checks))


if __name__ == "__main__":
    main()
