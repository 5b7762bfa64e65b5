"""A login storm, before and after bounding password hashing, in one run.

    python -m bench.logins [--seconds 20] [--logins 80] [--slices 4]

Two embedded platforms (`repitbot run`: the gateway and nine services in one process, SQLite)
run side by side, each on its own port:

- before: Argon2id at argon2-cffi's defaults (RFC 9106's low-memory choice: 64 MiB, 3 passes,
  4 lanes), hashes on as many threads as asyncio's default executor has (min(32, cores + 4)),
  at the priority of the rest of the process, no limit on waiting hashes: how the platform
  hashed until now;
- after: the user service's defaults (OWASP: 19 MiB, 2 passes, 1 lane; as many hashes at once
  as cores, on threads 10 steps nicer than the event loop's, at most 32 waiting, the rest
  refused with 503 and Retry-After).

For each: the cost of one Argon2 verification at its parameters (measured in this process on
one thread), the latency of a lesson request (`GET /api/v1/lessons?limit=1` as the demo teacher,
one connection) when idle, and then while `--logins` connections log in as fast as they are
answered (20 students registered first; right passwords) with the lesson connection alongside.
Reported: logins answered 200 per second, refusals (503) per second, login and lesson p50/p99,
and logins per CPU-second of the server process (= logins per second per core at full load).
Each measurement is cut into `--slices` turns taken by the two platforms in rotation, so that
a shared machine's changing load falls on both alike; a turn ends when the requests started
before its end are answered (its time, including that, divides the counts). The gateway's rate limits are lifted, as
every request comes from one address, and its upstream timeout is raised to 600 s (see
PATIENT_GATEWAY); the user service's failed-login throttle does not apply to right passwords.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from argon2 import PasswordHasher

from bench.gateway import _cpu_seconds

LESSONS = "/api/v1/lessons?limit=1"
TEACHER = ("teacher@demo.repitbot", "demo-teacher-pass")
PASSWORD = "correct horse battery staple"
ACCOUNTS = 20
ROOT = Path(__file__).resolve().parents[1]
CORES = os.cpu_count() or 1
LIFTED_LIMITS = {"AUTH_RATE_LIMIT_PER_MINUTE": "1000000000", "RATE_LIMIT_PER_MINUTE": "1000000000"}
# the gateway's default (30 s) is shorter than a login waits "before" on a busy machine: its 504s
# would open the breaker and the run would measure refusals instead of hashing
PATIENT_GATEWAY = {"UPSTREAM_READ_TIMEOUT": "600"}
CONFIGURATIONS = {
    "before": {"PASSWORD_HASH_MEMORY_KIB": "65536", "PASSWORD_HASH_TIME_COST": "3",
               "PASSWORD_HASH_PARALLELISM": "4", "PASSWORD_HASH_CONCURRENCY": str(min(32, CORES + 4)),
               "PASSWORD_HASH_MAX_WAITING": "1000000000", "PASSWORD_HASH_NICENESS": "0"},
    "after": {},
}


@dataclass
class Platform:
    name: str
    port: int
    process: subprocess.Popen
    environment: dict[str, str]
    teacher_token: str = ""
    accounts: list[str] = field(default_factory=list)

    def parameters(self) -> tuple[int, int, int]:
        from services.user.settings import UserSettings
        defaults = UserSettings.model_fields
        value = {name: self.environment.get(name.upper(), str(defaults[name].default))
                 for name in ("password_hash_memory_kib", "password_hash_time_cost", "password_hash_parallelism")}
        return (int(value["password_hash_memory_kib"]), int(value["password_hash_time_cost"]),
                int(value["password_hash_parallelism"]))


@dataclass
class Sample:
    logins: list[float] = field(default_factory=list)
    lessons: list[float] = field(default_factory=list)
    refused: int = 0
    errors: Counter[int] = field(default_factory=Counter)   # other statuses, by status
    elapsed: float = 0.0
    cpu: float = 0.0

    def add(self, other: Sample) -> None:
        self.logins += other.logins
        self.lessons += other.lessons
        self.refused += other.refused
        self.errors.update(other.errors)
        self.elapsed += other.elapsed
        self.cpu += other.cpu


def start_platform(name: str, environment: dict[str, str], workdir: Path) -> Platform:
    from tests.mesh import free_port
    port = free_port()
    env = {**os.environ, **LIFTED_LIMITS, **PATIENT_GATEWAY, **environment, "VAR_DIR": str(workdir / name),
           "REPITBOT_MODE": "embedded", "LOG_LEVEL": "WARNING", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "repitbot.cli", "run", "--port", str(port)],
                               cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return Platform(name, port, process, environment)


async def prepare(platform: Platform) -> None:
    """Wait for the platform, log the demo teacher in and register the students who will log in."""
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{platform.port}", timeout=600) as client:
        deadline = time.monotonic() + 600
        while True:
            try:
                if (await client.get("/health/live")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or platform.process.poll() is not None:
                raise RuntimeError(f"the {platform.name} platform did not start")
            await asyncio.sleep(0.5)
        login = await client.post("/auth/login", json={"email": TEACHER[0], "password": TEACHER[1]})
        platform.teacher_token = login.json()["access_token"]
        for i in range(ACCOUNTS):
            email = f"student{i}@bench.example.org"
            answer = await client.post("/auth/register", json={"email": email, "password": PASSWORD,
                                                               "full_name": f"Student {i}", "role": "student"})
            assert answer.status_code in (201, 409), answer.text
            platform.accounts.append(email)


def _login_request(port: int, email: str) -> bytes:
    body = json.dumps({"email": email, "password": PASSWORD}).encode()
    return (f"POST /auth/login HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


def _lesson_request(port: int, token: str) -> bytes:
    return (f"GET {LESSONS} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {token}\r\n"
            f"Accept: application/json\r\n\r\n").encode()


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    request: bytes) -> tuple[int, float]:
    """One request on a keep-alive connection: the status of its answer and its Retry-After."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length, retry_after = 0, 0.0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"retry-after":
            retry_after = float(value)
    await reader.readexactly(length)
    return int(head[9:12]), retry_after


async def _loop(port: int, request: bytes, until: float, latencies: list[float], sample: Sample,
                *, refusals_count: bool) -> None:
    """Requests one after another on a keep-alive connection until `until`; after a 503 the
    client waits as long as Retry-After says, as a client should."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            status, retry_after = await _exchange(reader, writer, request)
            if status == 200:
                latencies.append(time.perf_counter() - started)
            elif status == 503 and refusals_count:
                sample.refused += 1
                await asyncio.sleep(min(retry_after, max(0.0, until - time.perf_counter())))
            else:
                sample.errors[status] += 1
    finally:
        writer.close()


async def measure(platform: Platform, *, seconds: float, logins: int) -> Sample:
    """`seconds` of one lesson connection, alongside `logins` login connections (none: idle)."""
    sample = Sample()
    until = time.perf_counter() + seconds
    began, cpu_before = time.perf_counter(), _cpu_seconds(platform.process.pid)
    lesson = _lesson_request(platform.port, platform.teacher_token)
    loops = [_loop(platform.port, lesson, until, sample.lessons, sample, refusals_count=False)]
    loops += [_loop(platform.port, _login_request(platform.port, platform.accounts[i % ACCOUNTS]), until,
                    sample.logins, sample, refusals_count=True) for i in range(logins)]
    await asyncio.gather(*loops)
    sample.elapsed = time.perf_counter() - began
    sample.cpu = _cpu_seconds(platform.process.pid) - cpu_before
    return sample


def argon2_cost(parameters: tuple[int, int, int], seconds: float = 3.0) -> tuple[float, float]:
    """Wall and CPU milliseconds of one verification at `parameters`, on one thread."""
    memory, passes, lanes = parameters
    hasher = PasswordHasher(memory_cost=memory, time_cost=passes, parallelism=lanes)
    stored = hasher.hash(PASSWORD)
    count, began, cpu = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - began < seconds:
        hasher.verify(stored, PASSWORD)
        count += 1
    return (time.perf_counter() - began) / count * 1000, (time.process_time() - cpu) / count * 1000


def _ms(latencies: list[float], quantile: float) -> float:
    if not latencies:
        return float("nan")
    ordered = sorted(latencies)
    return ordered[min(len(ordered) - 1, int(len(ordered) * quantile))] * 1000


def report(platforms: list[Platform], idle: dict[str, Sample], storm: dict[str, Sample], logins: int) -> None:
    print(f"\n{'':8} {'parameters':>18} {'verify ms':>10} {'CPU ms':>7} | idle lesson p50/p99 | "
          f"storm of {logins}: logins/s  503/s  login p50/p99 ms  lesson p50/p99 ms  logins/CPU-s  errors")
    for platform in platforms:
        parameters = platform.parameters()
        wall, cpu = argon2_cost(parameters)
        quiet, busy = idle[platform.name], storm[platform.name]
        shown = "m={} KiB t={} p={}".format(*parameters)
        print(f"{platform.name:8} {shown:>18} {wall:>10.1f} {cpu:>7.1f} | "
              f"{_ms(quiet.lessons, .5):>8.1f} / {_ms(quiet.lessons, .99):>7.1f} | "
              f"{len(busy.logins) / busy.elapsed:>18.1f} {busy.refused / busy.elapsed:>6.1f} "
              f"{_ms(busy.logins, .5):>7.0f} / {_ms(busy.logins, .99):>6.0f} "
              f"{_ms(busy.lessons, .5):>8.1f} / {_ms(busy.lessons, .99):>7.1f} "
              f"{len(busy.logins) / max(busy.cpu, 1e-9):>13.1f}  {dict(busy.errors + quiet.errors) or '-'}")


async def run(args: argparse.Namespace, platforms: list[Platform]) -> None:
    await asyncio.gather(*(prepare(p) for p in platforms))
    for platform in platforms:                                      # warm-up
        await measure(platform, seconds=2, logins=4)
    idle = {p.name: Sample() for p in platforms}
    storm = {p.name: Sample() for p in platforms}
    for _ in range(args.slices):
        for platform in platforms:
            idle[platform.name].add(await measure(platform, seconds=args.seconds / args.slices / 2, logins=0))
            storm[platform.name].add(await measure(platform, seconds=args.seconds / args.slices,
                                                   logins=args.logins))
    print(f"loopback, {CORES} CPU(s); load average at the end {os.getloadavg()[0]:.1f}; "
          f"{args.seconds:.0f} s of storm and {args.seconds / 2:.0f} s idle per platform")
    report(platforms, idle, storm, args.logins)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="storm time per platform")
    parser.add_argument("--logins", type=int, default=80, help="connections logging in at once")
    parser.add_argument("--slices", type=int, default=4, help="turns each measurement is cut into")
    args = parser.parse_args()

    import uvloop

    with tempfile.TemporaryDirectory() as tmp:
        platforms = [start_platform(name, env, Path(tmp)) for name, env in CONFIGURATIONS.items()]
        try:
            uvloop.run(run(args, platforms))
        finally:
            for platform in platforms:
                platform.process.terminate()
            for platform in platforms:
                platform.process.wait(timeout=30)


if __name__ == "__main__":
    main()
