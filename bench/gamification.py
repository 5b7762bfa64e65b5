"""Gamification throughput, in one run:

    python -m bench.gamification [--events 10000] [--instances 1] [--paced-rates 100,300] [--paced-seconds 20]
    python -m bench.gamification --baseline DIR [--rounds 4] [--events 2000]

1. The rule engine alone (no I/O): `lesson.completed` facts applied per second with the default
   rule set (20 achievements) and with 1,000 achievements (980 more that read card reviews), and
   `dictionary.card_reviewed` facts with those 1,000, beside the mean number of achievement rules
   each fact made the engine evaluate: a fact costs what it can affect, not what the set holds.
2. The whole pipeline on real RabbitMQ and PostgreSQL: the student service runs as its own
   process(es) (`--instances`, uvicorn, mesh mode); this process publishes `lesson.completed`
   envelopes to the exchange as the lesson service would, and listens for the `xp.earned` each one
   leads to. Measured: sustained events/s of a burst of `--events` (committed: facts in the
   database; relayed: `xp.earned` back on the bus), then latency at steady `--paced-rates` from
   publish to commit (the commit timestamp PostgreSQL keeps for the fact's row) and from publish
   to the `xp.earned` relayed back, beside the raw RabbitMQ rate of `bench.bus` (publish with
   confirms -> consume with acks) in the same run.

With `--baseline DIR` (a checkout of another commit) it only compares CPU per event of a burst:
in `--rounds` rounds the student service of this tree and the one of DIR take turns against the
same servers, each on a fresh database, so that the load of a shared machine falls on both alike.

Starts its own throw-away PostgreSQL, RabbitMQ and Redis on loopback (as the test suite does).
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import aiormq
import asyncpg
import orjson
import psutil

from bench.bus import _events, raw_rate
from services.student.engine import Fact, StudentState, apply_fact
from services.student.ruleset import RuleSet, load_default_ruleset, parse_ruleset
from shared.events import EXCHANGE, Event, LessonCompleted, make_event
from shared.rabbit import RabbitBus
from tests.mesh import Mesh
from tests.servers import start_servers, stop_servers

STUDENTS = 2000
START = datetime(2026, 3, 2, 9, tzinfo=UTC)


# --- 1. the engine alone ---------------------------------------------------------------------
def thousand_rules() -> RuleSet:
    data = copy.deepcopy(load_default_ruleset().to_dict())
    for number in range(1, 981):
        data["achievements"].append({"code": f"reviews_{number}", "title": {"ru": "Карточки", "en": "Cards"},
                                     "tier": "common",
                                     "rule": {"kind": "counter", "metric": "card_reviews", "threshold": number * 5}})
    return parse_ruleset(data)


def lesson_facts(students: int, per_student: int) -> list[tuple[int, Fact]]:
    return [(s, Fact(uuid.uuid4(), "lesson.completed", START + timedelta(days=n, minutes=s), "Europe/Moscow",
                     {"lesson_id": str(uuid.uuid4()), "attended": True, "lesson_type": "regular", "score": 50,
                      "starts_at": (START + timedelta(days=n, minutes=s - 60)).isoformat(), "duration_minutes": 60}))
            for n in range(per_student) for s in range(students)]


def review_facts(students: int, per_student: int) -> list[tuple[int, Fact]]:
    return [(s, Fact(uuid.uuid4(), "dictionary.card_reviewed", START + timedelta(hours=n, minutes=s), "Europe/Moscow",
                     {"card_id": str(uuid.uuid4()), "rating": "good", "learned": False}))
            for n in range(per_student) for s in range(students)]


def engine_rate(ruleset: RuleSet, facts: list[tuple[int, Fact]]) -> tuple[float, float]:
    """(facts per second, mean achievement rules evaluated per fact)."""
    curve = ruleset.curve()
    states: dict[int, StudentState] = {}
    evaluated = 0
    started = time.perf_counter()
    for student, fact in facts:
        evaluated += apply_fact(states.setdefault(student, StudentState()), fact, ruleset, curve).evaluated
    return len(facts) / (time.perf_counter() - started), evaluated / len(facts)


def engine_part() -> list[tuple[str, float, float]]:
    default, big = load_default_ruleset(), thousand_rules()
    lessons, reviews = lesson_facts(200, 50), review_facts(200, 50)
    return [("lesson.completed, default rules (20 achievements)", *engine_rate(default, lessons)),
            ("lesson.completed, 1,000 achievements", *engine_rate(big, lessons)),
            ("dictionary.card_reviewed, 1,000 achievements (981 read reviews)", *engine_rate(big, reviews))]


# --- 2. the pipeline --------------------------------------------------------------------------
def lesson_event(student_id: uuid.UUID) -> Event:
    now = datetime.now(UTC)
    return make_event(LessonCompleted(lesson_id=uuid.uuid4(), teacher_id=uuid.uuid4(), student_id=student_id,
                                      subject="maths", starts_at=now - timedelta(hours=1), duration_minutes=60,
                                      score=50), producer="lesson")


class Tap:
    """The `xp.earned` of lesson awards coming back on the bus: when each source event's arrived.
    It reads the channel below aio-pika (no `IncomingMessage` per delivery): the listener shares
    the two cores with what it measures."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}

    async def start(self, url: str) -> aio_pika.abc.AbstractRobustConnection:
        connection = await aio_pika.connect_robust(url)
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=500)
        exchange = await channel.declare_exchange(EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await channel.declare_queue("", exclusive=True, auto_delete=True)
        await queue.bind(exchange, routing_key="xp.earned")
        await (await channel.get_underlay_channel()).basic_consume(queue.name, self._keep, no_ack=True)
        return connection

    async def _keep(self, message: aiormq.abc.DeliveredMessage) -> None:
        payload = orjson.loads(message.body)["payload"]
        if payload.get("rule") == "lesson_attended":
            self.arrived[payload["source_event_id"]] = time.perf_counter()

    async def wait(self, ids: list[str], timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while not all(i in self.arrived for i in ids):
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{sum(i in self.arrived for i in ids)} of {len(ids)} events came back")
            await asyncio.sleep(0.02)


async def facts_count(db: asyncpg.Connection) -> int:
    return await db.fetchval("SELECT count(*) FROM facts")


def envelopes(students: list[uuid.UUID], n: int) -> list[dict]:
    """`n` lesson.completed envelopes for the students in turn, ready to publish (built before the
    clock starts)."""
    return [lesson_event(students[i % len(students)]).model_dump(mode="json") for i in range(n)]


async def burst(bus: RabbitBus, tap: Tap, db: asyncpg.Connection, students: list[uuid.UUID],
                n: int) -> tuple[float, float, float]:
    """(publish rate, committed rate, relayed rate) of `n` events published as fast as possible."""
    before = await facts_count(db)
    events = envelopes(students, n)
    started = time.perf_counter()
    for i in range(0, n, 200):
        await bus.publish_envelopes(events[i:i + 200])
    published = time.perf_counter() - started
    while await facts_count(db) < before + n:
        await asyncio.sleep(0.05)
    committed = time.perf_counter() - started
    await tap.wait([e["id"] for e in events], timeout=600)
    relayed = max(tap.arrived[e["id"]] for e in events) - started
    return n / published, n / committed, n / relayed


async def paced(bus: RabbitBus, tap: Tap, db: asyncpg.Connection, students: list[uuid.UUID], rate: int,
                seconds: float) -> tuple[list[float], list[float]]:
    """Latencies (ms) at `rate` events per second: from publish to the commit of the event's fact
    (PostgreSQL's commit timestamp of the row, `track_commit_timestamp`), and from publish to its
    `xp.earned` back on the bus (after the commit and the relay)."""
    ready = envelopes(students, int(rate * seconds) + rate)
    sent: dict[str, tuple[float, float]] = {}
    started, i = time.perf_counter(), 0
    while time.perf_counter() - started < seconds:
        due = int((time.perf_counter() - started) * rate)
        batch = ready[i:due]
        for envelope in batch:
            sent[envelope["id"]] = (time.perf_counter(), time.time())
        if batch:
            await bus.publish_envelopes(batch)
        i = due
        await asyncio.sleep(0.01)
    await tap.wait(list(sent), timeout=300)
    relayed = sorted((tap.arrived[key] - at) * 1000 for key, (at, _) in sent.items())
    rows = await db.fetch("SELECT event_id::text AS id, pg_xact_commit_timestamp(xmin) AS committed_at FROM facts "
                          "WHERE event_id::text = ANY($1)", list(sent))
    committed = sorted((row["committed_at"].timestamp() - sent[row["id"]][1]) * 1000 for row in rows)
    return committed, relayed


def cpu_seconds() -> dict[str, float]:
    """CPU time used so far by the processes of the pipeline, by role: this process and the servers
    and services it started (not those of anyone else on a shared machine)."""
    roles = {"services.student": "student service", "beam": "RabbitMQ", "postgres": "PostgreSQL",
             "redis-server": "Redis"}
    used: dict[str, float] = {}
    me = psutil.Process()
    for process in [me, *me.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            command = " ".join(process.cmdline())
            role = "bench (publisher, listener)" if process.pid == me.pid else next(
                (name for key, name in roles.items() if key in command), None)
            if role:
                times = process.cpu_times()
                used[role] = used.get(role, 0.0) + times.user + times.system
    return used


def percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


async def pipeline_part(servers, args: argparse.Namespace) -> dict[str, float]:
    results: dict = {}
    async with student_pipeline(servers, args) as (bus, tap, db, students):
        results["publish"], results["committed"], results["relayed"], results["cpu"] = await measured_burst(
            bus, tap, db, students, args.events)
        for rate in args.paced_rates:
            committed, relayed = await paced(bus, tap, db, students, rate, args.paced_seconds)
            results[rate] = {"events": len(relayed), "committed": (statistics.median(committed),
                                                                   percentile(committed, 0.99)),
                             "relayed": (statistics.median(relayed), percentile(relayed, 0.99))}
    results["raw"] = await raw_rate(servers.rabbitmq_url, _events(args.events))
    return results


@contextlib.asynccontextmanager
async def student_pipeline(servers, args: argparse.Namespace, source: Path | None = None) -> AsyncIterator[tuple]:
    """The student service (of this tree, or of the tree at `source`) on a fresh database, warmed up
    (every student has a state row): (bus, tap, database connection, students)."""
    url = servers.create_database(f"bench_student_{uuid.uuid4().hex[:6]}")
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    env = {"DATABASE_URL": url, "LOG_LEVEL": "WARNING", "EVENT_PREFETCH": str(args.prefetch)}
    if source is not None:
        env["PYTHONPATH"] = str(source)
    with Mesh(servers) as mesh:
        mesh.start_app("student", "services.student.app:create_app", instances=args.instances, env=env)
        tap, bus = Tap(), RabbitBus(servers.rabbitmq_url)
        connection = await tap.start(servers.rabbitmq_url)
        db = await asyncpg.connect(dsn)
        try:
            students = [uuid.uuid4() for _ in range(STUDENTS)]
            await burst(bus, tap, db, students, 1000)
            yield bus, tap, db, students
        finally:
            await db.close()
            await bus.close()
            await connection.close()


async def measured_burst(bus: RabbitBus, tap: Tap, db: asyncpg.Connection, students: list[uuid.UUID],
                         n: int) -> tuple[float, float, float, dict[str, float]]:
    """`burst`, and the CPU time each process spent per event of it."""
    before = cpu_seconds()
    rates = await burst(bus, tap, db, students, n)
    return (*rates, {role: (spent - before.get(role, 0.0)) / n for role, spent in cpu_seconds().items()})


async def compare(servers, args: argparse.Namespace) -> None:
    """CPU per event of this tree's student service and the baseline's, in alternating rounds."""
    trees: dict[str, Path | None] = {"this tree": None, f"baseline {args.baseline}": args.baseline}
    spent: dict[str, list[tuple[float, float]]] = {name: [] for name in trees}
    for round_ in range(1, args.rounds + 1):
        for name, source in (trees.items() if round_ % 2 else reversed(trees.items())):
            async with student_pipeline(servers, args, source) as (bus, tap, db, students):
                *_, committed, _, cpu = await measured_burst(bus, tap, db, students, args.events)
            service, total = cpu.get("student service", 0.0) * 1000, sum(cpu.values()) * 1000
            spent[name].append((service, total))
            print(f"round {round_} {name:40s} committed {committed:6.0f} events/s   CPU per event: "
                  f"student service {service:.2f} ms, all processes {total:.2f} ms", flush=True)
    for name, runs in spent.items():
        services, totals = [run[0] for run in runs], [run[1] for run in runs]
        print(f"{name:40s} student service median {statistics.median(services):.2f} ms "
              f"(min {min(services):.2f}, max {max(services):.2f}); all processes median "
              f"{statistics.median(totals):.2f} ms")


async def main(args: argparse.Namespace) -> None:
    if args.baseline is not None:
        base = Path(tempfile.mkdtemp(prefix="repitbot-bench-"))
        servers = start_servers(base)
        try:
            await compare(servers, args)
        finally:
            stop_servers()
            shutil.rmtree(base, ignore_errors=True)
        return
    for name, rate, evaluated in engine_part():
        print(f"engine  {name:66s} {rate:9.0f} facts/s   {evaluated:7.1f} rules evaluated per fact")
    base = Path(tempfile.mkdtemp(prefix="repitbot-bench-"))
    servers = start_servers(base)
    try:
        r = await pipeline_part(servers, args)
    finally:
        stop_servers()
        shutil.rmtree(base, ignore_errors=True)
    print(f"pipeline ({args.instances} instance(s), prefetch {args.prefetch}), burst of {args.events} "
          f"lesson.completed for {STUDENTS} students:")
    print(f"  published {r['publish']:7.0f} events/s   committed {r['committed']:7.0f} events/s   "
          f"relayed back {r['relayed']:7.0f} events/s")
    print("  CPU per event of the burst (until every xp.earned was back): " + ", ".join(
        f"{role} {seconds * 1000:.2f} ms" for role, seconds in sorted(r["cpu"].items())) +
        f"; total {sum(r['cpu'].values()) * 1000:.2f} ms")
    for rate in args.paced_rates:
        (c50, c99), (r50, r99) = r[rate]["committed"], r[rate]["relayed"]
        print(f"  at {rate} events/s for {args.paced_seconds:.0f} s ({r[rate]['events']} events): publish -> "
              f"committed p50 {c50:.1f} ms p99 {c99:.1f} ms; publish -> committed -> xp.earned back "
              f"p50 {r50:.1f} ms p99 {r99:.1f} ms")
    print(f"raw aio-pika publish(confirm) -> consume(ack), quorum queue: {r['raw']:7.0f} msg/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--instances", type=int, default=1)
    parser.add_argument("--prefetch", type=int, default=200)
    parser.add_argument("--paced-rates", type=lambda text: [int(x) for x in text.split(",")], default=[100, 300])
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--baseline", type=Path, help="compare CPU per event with the tree in this directory")
    parser.add_argument("--rounds", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
