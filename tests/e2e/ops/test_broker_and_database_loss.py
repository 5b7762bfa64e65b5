"""RabbitMQ lost for a while, then a service's PostgreSQL lost, both back again, under a gateway
and the user, lesson and student services in mesh mode. The suite's servers are shared, so the
faults are made by a TCP proxy (`tests.faults.Proxy`) between the mesh and the real server: every
service reaches RabbitMQ through one, the lesson service its database through another.

Broker lost: writes go on, their events wait in the outbox and arrive once it is back, once.
Database lost: requests get 503 to retry, no breaker opens, an event that arrives meanwhile is
retried (not parked) and handled once the database is back, and so are the first requests.

Each test prints what it measured (time to detection in `/health`, the answers during the outage,
recovery after it); `docs/operations.md` §10 keeps the figures of one run."""
from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import asyncpg
import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Account, link, register_and_login
from tests.e2e.student.flow import noon_in_two_days
from tests.faults import Proxy
from tests.mesh import Mesh, Process
from tests.support import eventually

SERVICES = ("user", "lesson", "student")
PROBLEM = "application/problem+json"
LINKED = "user.teacher_linked"
PARKED_AFTER = 5          # EVENT_MAX_ATTEMPTS's default, which the mesh keeps: an ordinary failure


@dataclass
class Faulty:
    """The mesh, its gateway, the two proxies, and the lesson database as the server has it."""

    mesh: Mesh
    gateway: Process
    broker: Proxy
    database: Proxy
    lesson_database: str


@pytest.fixture(scope="module")
def faulty(servers) -> Iterator[Faulty]:
    rabbit = urlsplit(servers.rabbitmq_url)
    with Proxy(rabbit.hostname, rabbit.port) as broker, \
            Proxy(servers.postgres_host, servers.postgres_port) as database:
        real: dict[str, str] = {}

        def database_url(name: str) -> str:
            real[name] = servers.create_database(f"faults_{name}_{uuid.uuid4().hex[:8]}")
            return database.address(real[name]) if name == "lesson" else real[name]

        through_proxy = dataclasses.replace(servers, rabbitmq_url=broker.address(servers.rabbitmq_url))
        with Mesh(through_proxy, database_url=database_url) as mesh:
            mesh.start_services(*SERVICES)
            gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000", "HEALTH_CACHE_SECONDS": "0",
                                              "HEALTH_TIMEOUT": "1"})
            yield Faulty(mesh, gateway, broker, database, real["lesson"])


async def test_writes_go_on_while_rabbitmq_is_lost_and_their_events_arrive_once_it_is_back(faulty):
    async with httpx.AsyncClient(base_url=faulty.gateway.url, timeout=30, trust_env=False) as client:
        teacher, student = await _linked_pair(client)
        lesson = await eventually(lambda: _book(client, teacher, student), timeout=30)
        assert faulty.broker.accepted >= len(SERVICES)          # the services are on the proxy

        faulty.broker.cut()
        cut_at = time.monotonic()
        await eventually(lambda: _broker_down_everywhere(client), timeout=30)
        noticed = time.monotonic() - cut_at
        answers = [(await client.post(f"/api/v1/lessons/{lesson}/start", headers=teacher.headers)).status_code,
                   (await client.post(f"/api/v1/lessons/{lesson}/complete", headers=teacher.headers,
                                      json={"score": 90})).status_code]
        for _ in range(10):
            answers.append((await client.get("/api/v1/lessons", headers=teacher.headers)).status_code)
        held = await eventually(lambda: _held_in_outbox(faulty.lesson_database, "lesson.completed"), timeout=10)
        backlog = await eventually(lambda: _backlog(faulty.mesh.instances["lesson"][0]), timeout=10)
        during = (await client.get("/health")).json()
        readiness = [httpx.get(p.url + "/health/ready", trust_env=False) for p in _processes(faulty)]

        faulty.broker.restore()
        restored_at = time.monotonic()
        await eventually(lambda: _xp_reaches(client, student, 240), timeout=60)   # 100 + 90 + first_step's 50
        flowing = time.monotonic() - restored_at
        await eventually(lambda: _health_ok(client), timeout=30)
        healthy = time.monotonic() - restored_at
        # a later lesson's XP is the signal that anything published before it has been consumed
        after = await _complete(client, teacher, student)
        await eventually(lambda: _xp_reaches(client, student, 240 + 190), timeout=30)
        xp = await _xp(client, student)
        unpublished = await _held_in_outbox(faulty.lesson_database, "lesson.completed")
    print(f"\nbroker lost: noticed by /health in {noticed:.2f} s; {len(answers)} requests during the outage, "
          f"statuses {sorted(set(answers))}; {held} lesson.completed held in the outbox (backlog gauge {backlog}); "
          f"events flowing {flowing:.2f} s and /health ok {healthy:.2f} s after RabbitMQ was back")
    assert answers == [200, 200] + [200] * 10
    assert all((during["services"][name]["status"], during["services"][name]["dependencies"]["bus"])
               == ("degraded", "down") for name in SERVICES)
    assert all(service["breaker"] == "closed" for service in during["services"].values())
    assert all((r.status_code, r.json()["status"], r.json()["checks"]["bus"]["status"]) == (200, "degraded", "down")
               for r in readiness)
    assert held == 1 and backlog >= 1
    assert after.status_code == 200
    assert xp == 240 + 190                                   # each lesson's XP once
    assert unpublished == 0


async def test_a_service_answers_503_to_retry_while_its_database_is_lost_and_works_when_it_is_back(faulty):
    teacher = await _registered(faulty)
    lesson_service = faulty.mesh.instances["lesson"][0]
    async with httpx.AsyncClient(base_url=faulty.gateway.url, timeout=30, trust_env=False) as client:
        assert (await client.get("/api/v1/lessons", headers=teacher.headers)).status_code == 200

        faulty.database.cut()
        cut_at = time.monotonic()
        await eventually(lambda: _database_down(client), timeout=30)
        noticed = time.monotonic() - cut_at
        lost = [await client.get("/api/v1/lessons", headers=teacher.headers) for _ in range(10)]
        lost.append(await client.post("/api/v1/lessons", headers=teacher.headers, json={
            "student_id": str(uuid.uuid4()), "subject": "Maths", "title": "Fractions",
            "starts_at": noon_in_two_days(), "duration_minutes": 60}))
        during = (await client.get("/health")).json()
        # a link made meanwhile: the lesson service's consumer gets its event and cannot store it,
        # more times than an ordinary failure is retried before it is parked
        linked_before = _counted(lesson_service, "consumed", LINKED, outcome="processed")
        failed_before = _counted(lesson_service, "failed", LINKED)
        pair = await _linked_pair(client)
        await eventually(lambda: _counted(lesson_service, "failed", LINKED) >= failed_before + PARKED_AFTER,
                         timeout=30)

        faulty.database.restore()
        restored_at = time.monotonic()
        first = [(await client.get("/api/v1/lessons", headers=teacher.headers)).status_code for _ in range(3)]
        answered = time.monotonic() - restored_at
        await eventually(lambda: _health_ok(client), timeout=30)
        healthy = time.monotonic() - restored_at
        await eventually(lambda: _counted(lesson_service, "consumed", LINKED, outcome="processed") > linked_before,
                         timeout=60)
        caught_up = time.monotonic() - restored_at
        parked = _counted(lesson_service, "dead_lettered", LINKED)
        booked = await _book(client, *pair)
    print(f"\ndatabase lost: noticed by /health in {noticed:.2f} s; {len(lost)} requests during the outage, "
          f"statuses {sorted({r.status_code for r in lost})} ({sorted({r.json()['detail'] for r in lost})}); "
          f"after it was back the first requests "
          f"{first} in {answered:.2f} s, /health ok {healthy:.2f} s after, the link's event held "
          f"meanwhile handled {caught_up:.2f} s after")
    assert [r.status_code for r in lost] == [503] * len(lost)
    assert all(r.headers["content-type"] == PROBLEM and r.headers.get("retry-after") for r in lost)
    lesson = during["services"]["lesson"]
    assert (during["status"], lesson["status"], lesson["dependencies"]["database"]) == ("degraded", "degraded", "down")
    assert all(service["breaker"] == "closed" for service in during["services"].values())
    assert first == [200, 200, 200]
    assert parked == 0 and booked


# --- helpers -------------------------------------------------------------------------------
async def _linked_pair(client: httpx.AsyncClient) -> tuple[Account, Account]:
    teacher = await register_and_login(client, "teacher")
    student = await register_and_login(client, "student")
    await link(client, teacher, student)
    return teacher, student


async def _registered(faulty: Faulty) -> Account:
    async with httpx.AsyncClient(base_url=faulty.gateway.url, timeout=30, trust_env=False) as client:
        return await register_and_login(client, "teacher")


async def _book(client: httpx.AsyncClient, teacher: Account, student: Account) -> str | None:
    """A lesson booked once the lesson service has heard of the link (422 before)."""
    booked = await client.post("/api/v1/lessons", headers=teacher.headers, json={
        "student_id": student.id, "subject": "Maths", "title": "Fractions",
        "starts_at": noon_in_two_days(), "duration_minutes": 60})
    return booked.json()["id"] if booked.status_code == 201 else None


async def _complete(client: httpx.AsyncClient, teacher: Account, student: Account) -> httpx.Response:
    lesson = await _book(client, teacher, student)
    assert lesson, "booked"
    assert (await client.post(f"/api/v1/lessons/{lesson}/start", headers=teacher.headers)).status_code == 200
    return await client.post(f"/api/v1/lessons/{lesson}/complete", headers=teacher.headers, json={"score": 90})


async def _xp(client: httpx.AsyncClient, student: Account) -> int:
    profile = await client.get(f"/api/v1/students/{student.id}/profile", headers=student.headers)
    return profile.json()["xp"] if profile.status_code == 200 else 0


async def _xp_reaches(client: httpx.AsyncClient, student: Account, xp: int) -> bool:
    return await _xp(client, student) >= xp


async def _held_in_outbox(url: str, event_type: str) -> int:
    """Unpublished outbox rows of this type, read from the server itself (not through the proxy)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return await conn.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL AND type = $1",
                                   event_type)
    finally:
        await conn.close()


def _processes(faulty: Faulty) -> list[Process]:
    return [faulty.mesh.instances[name][0] for name in SERVICES]


def _counted(process: Process, what: str, event_type: str, **labels: str) -> float:
    """The service's `repitbot_events_<what>_total` of this event type (consumed, failed, dead_lettered)."""
    wanted = {"service": process.name, "type": event_type, **labels}
    for family in text_string_to_metric_families(httpx.get(process.url + "/metrics", trust_env=False).text):
        for sample in family.samples:
            if sample.name == f"repitbot_events_{what}_total" and sample.labels == wanted:
                return sample.value
    return 0.0


def _backlog(process: Process) -> float:
    """The service's outbox backlog gauge, as Prometheus would scrape it."""
    for family in text_string_to_metric_families(httpx.get(process.url + "/metrics", trust_env=False).text):
        for sample in family.samples:
            if sample.name == "repitbot_outbox_backlog" and sample.labels == {"service": process.name}:
                return sample.value
    return 0.0


async def _broker_down_everywhere(client: httpx.AsyncClient) -> bool:
    services = (await client.get("/health")).json()["services"]
    return all(services[name]["dependencies"].get("bus") == "down" for name in SERVICES)


async def _database_down(client: httpx.AsyncClient) -> bool:
    lesson = (await client.get("/health")).json()["services"]["lesson"]
    return lesson["dependencies"].get("database") == "down"


async def _health_ok(client: httpx.AsyncClient) -> bool:
    body = (await client.get("/health")).json()
    return all(body["services"][name]["status"] == "ok" for name in SERVICES) and body["gateway"]["status"] == "ok"
