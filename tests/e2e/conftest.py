"""The whole platform as a client sees it through the gateway: embedded (`embedded`, and
`linked` for the usual teacher and student), or in mesh mode on the session's shared mesh
(`shared_mesh`)."""
from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from shared.settings import SERVICE_NAMES, Settings
from tests.mesh import Mesh, Process
from tests.otlp import Collector
from tests.payment_fakes import SHOP_ID, SHOP_SECRET, FakeYooKassa, fake_yookassa
from tests.servers import Servers
from tests.support import running
from tests.telegram_fake import BOT_TOKEN, FakeTelegram


@dataclass
class Account:
    id: str
    email: str
    role: str
    headers: dict[str, str]
    refresh_token: str


async def register_and_login(client: httpx.AsyncClient, role: str, *, full_name: str | None = None,
                             timezone: str = "Europe/Moscow") -> Account:
    email = f"{role}-{uuid.uuid4().hex[:8]}@example.org"
    password = "correct horse battery staple"
    response = await client.post("/auth/register", json={
        "email": email, "password": password, "full_name": full_name or f"{role.title()} Test",
        "role": role, "timezone": timezone})
    assert response.status_code == 201, response.text
    tokens = (await client.post("/auth/login", json={"email": email, "password": password})).json()
    return Account(response.json()["id"], email, role,
                   {"Authorization": f"Bearer {tokens['access_token']}"}, tokens["refresh_token"])


async def link(client: httpx.AsyncClient, teacher: Account, student: Account) -> None:
    invite = await client.post("/api/v1/teachers/me/invites", headers=teacher.headers)
    assert invite.status_code in (200, 201), invite.text
    accepted = await client.post(f"/api/v1/invites/{invite.json()['code']}/accept", headers=student.headers)
    assert accepted.status_code in (200, 201), accepted.text


@pytest.fixture
async def embedded(tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the embedded platform (gateway + nine services in this process)."""
    from repitbot.embedded import create_embedded_app

    app = create_embedded_app(Settings(var_dir=tmp_path, log_json=True), seed=False)
    async with running(app) as client:
        client.app = app  # type: ignore[attr-defined]
        yield client


async def settle(client: httpx.AsyncClient) -> None:
    """Wait until every outbox of the embedded platform is published and its bus is drained,
    including the events that handlers emit in turn."""
    app = client.app  # type: ignore[attr-defined]
    while True:
        published = 0
        for service in app.state.service_apps.values():
            while n := await service.state.relay.relay_once():
                published += n
        await app.state.runtime.bus.drain()
        if not published:
            return


@dataclass
class Linked:
    """A teacher and a student of the embedded platform, linked, every event of that handled."""

    client: httpx.AsyncClient
    teacher: Account
    student: Account


@pytest.fixture
async def linked(embedded: httpx.AsyncClient) -> Linked:
    teacher = await register_and_login(embedded, "teacher", full_name="Anna Teacher")
    student = await register_and_login(embedded, "student", full_name="Ivan Student")
    await link(embedded, teacher, student)
    await settle(embedded)
    return Linked(embedded, teacher, student)


# --- the shared mesh -------------------------------------------------------------------------

@dataclass
class SharedMesh:
    """All nine services and a gateway as processes, started once for the session and used by
    every mesh-mode flow that needs no settings of its own. Its tests register their own people
    and look only at what is theirs: others came before them. `servers` is what it runs on (a
    virtual host and a Redis database of its own, see `Servers.isolated`)."""

    mesh: Mesh
    gateway: Process
    servers: Servers
    telegram: FakeTelegram      # the Bot API of `BOT_TOKEN`, which the notification service sends to
    yookassa: FakeYooKassa      # the payment service's YooKassa
    collector: Collector        # every process's spans

    def client(self, timeout: float = 30.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.gateway.url, timeout=timeout, trust_env=False)


SHARED_MESH_ENV = {
    "RATE_LIMIT_PER_MINUTE": "1000", "AUTH_RATE_LIMIT_PER_MINUTE": "1000",   # a test registers many
    "DICTIONARY_FSRS_FUZZING": "false",   # due times the test can compute with the library
    "BOT_TOKEN": BOT_TOKEN, "YOOKASSA_SHOP_ID": SHOP_ID, "YOOKASSA_SECRET_KEY": SHOP_SECRET,
}


@pytest.fixture(scope="session")
async def the_shared_mesh(servers: Servers) -> AsyncIterator[SharedMesh]:
    isolated = servers.isolated()   # the queues of the modules' own meshes are not its own
    async with FakeTelegram(BOT_TOKEN) as telegram:
        with fake_yookassa() as yookassa, Collector() as collector:
            env = {**SHARED_MESH_ENV, **collector.env, "TELEGRAM_API_BASE": telegram.url,
                   "YOOKASSA_API_URL": yookassa.api_url}
            with Mesh(isolated, env=env) as mesh:
                await asyncio.to_thread(mesh.start_services, *SERVICE_NAMES)
                gateway = await asyncio.to_thread(mesh.start_gateway)
                yield SharedMesh(mesh, gateway, isolated, telegram, yookassa, collector)


_LOG_OFFSETS = pytest.StashKey[dict[Path, int]]()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The tests on the shared mesh run one after the other, from where the first of them was:
    its processes live only while they run, not beside the meshes of the modules in between."""
    users = [item for item in items if "shared_mesh" in getattr(item, "fixturenames", ())]
    if users:
        first, chosen = items.index(users[0]), set(users)
        others = [item for item in items if item not in chosen]
        items[:] = others[:first] + users + others[first:]


@pytest.fixture
def shared_mesh(the_shared_mesh: SharedMesh, request: pytest.FixtureRequest) -> SharedMesh:
    """The shared mesh with no login or request counted yet (every client is 127.0.0.1, so one
    test's logins would eat into the per-address limits of the next). A failing test's report
    shows what the processes logged during it. The session's last test on it stops it."""
    mesh = the_shared_mesh.mesh
    dead = [p for p in mesh.all_processes() if not p.running]
    if dead:
        pytest.fail("the shared mesh lost " + ", ".join(p.name for p in dead) + "\n"
                    + "\n".join(p.tail() for p in dead))
    mesh.forget_counted_requests()
    request.node.stash[_LOG_OFFSETS] = {p.log: _size(p.log) for p in mesh.all_processes()}
    users = [item for item in request.session.items if "shared_mesh" in getattr(item, "fixturenames", ())]
    if users[-1] is request.node:   # the last one: the rest of the session runs without its processes
        request.addfinalizer(mesh.close)
    return the_shared_mesh


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[pytest.TestReport]:
    report = yield
    offsets = item.stash.get(_LOG_OFFSETS, None)
    if offsets and report.failed and call.when == "call":
        report.sections.append(("logs of the shared mesh during the test", _logged_since(offsets)))
    return report


def _logged_since(offsets: dict[Path, int]) -> str:
    parts = []
    for log, offset in offsets.items():
        with open(log, "rb") as lines:
            lines.seek(offset)
            parts.append(f"--- {log.name} ---\n" + lines.read().decode(errors="replace"))
    return "\n".join(parts)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0
