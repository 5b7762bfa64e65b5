"""Gateway overhead on loopback: one small authenticated GET, three ways, in one run.

    python -m bench.gateway [--seconds 10] [--connections 32] [--slices 5]

1. directly from the service, in mesh mode: the lesson service's `GET /api/v1/lessons?limit=1`
   (JWT check, one PostgreSQL query, a small JSON page) and, to show the gateway's own cost
   against an upstream that costs almost nothing, the test suite's stand-in upstream app;
2. through the gateway in mesh mode, default settings (JWT check with revocation check, rate
   limit of 100/minute per user counted in Redis, circuit breaker, streaming proxy); requests
   rotate over `USERS` users (tokens), so that no user passes the limit;
3. through nginx (the Debian package) as a plain reverse proxy with upstream keep-alive.

First every user's token goes through the gateway and to the lesson service once: a process
verifies a token's signature once and remembers it, as it would for real clients, who use a
token many times.
Each target then gets a warm-up, a throughput run with `--connections` keep-alive connections
and a latency run with one connection, each cut into `--slices` turns taken by the targets in
rotation (a shared machine's load changes within seconds; this way it falls on all alike). The
CPU time the server process (nginx: with its worker) spent per request is reported beside the
rates, as it is steadier than the rates on a shared machine. The load generator is a lean
asyncio HTTP/1.1 client in this process (uvloop), so that it costs less CPU than the servers.
PostgreSQL, RabbitMQ and Redis are started as in the test suite.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psutil

LESSONS = "/api/v1/lessons?limit=1"            # the lesson service: JWT check, one PostgreSQL query
STAND_IN = "/api/v1/decks/bench"                # a bare Starlette echo (no auth, no database)
USERS = 6000   # requests rotate over this many users, so that none passes the default 100/minute


@dataclass
class Result:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms: float              # CPU time of the server process(es) per request


@dataclass
class Target:
    name: str
    port: int
    pid: int                   # the server process (nginx: its master, the worker is a child)


def _requests(port: int, path: str, tokens: list[str]) -> list[bytes]:
    return [(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
             f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n").encode()
            for token in tokens]


async def _exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> int:
    """One request on a keep-alive connection; the status of its answer."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return int(head[9:12])


async def _connection(port: int, requests: list[bytes], until: float, latencies: list[float],
                      errors: list[int], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    turn = offset
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            status = await _exchange(reader, writer, requests[turn % len(requests)])
            turn += 1
            latencies.append(time.perf_counter() - started)
            if status >= 300:
                errors.append(status)
    finally:
        writer.close()


def _cpu_seconds(pid: int) -> float:
    process = psutil.Process(pid)
    return sum(sum(p.cpu_times()[:2]) for p in [process, *process.children()])


@dataclass
class Sample:
    """What one target did in one slice of a run."""

    latencies: list[float]
    errors: int
    elapsed: float
    cpu: float

    @staticmethod
    def result(name: str, samples: list[Sample]) -> Result:
        latencies = sorted(x for s in samples for x in s.latencies)
        elapsed, cpu = sum(s.elapsed for s in samples), sum(s.cpu for s in samples)
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        return Result(name, len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000,
                      sum(s.errors for s in samples), cpu / len(latencies) * 1000)


async def measure(target: Target, path: str, tokens: list[str], *, seconds: float,
                  connections: int) -> Sample:
    requests = _requests(target.port, path, tokens)
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    began, cpu_before = time.perf_counter(), _cpu_seconds(target.pid)
    await asyncio.gather(*(_connection(target.port, requests, until, latencies, errors, i * 997)
                           for i in range(connections)))
    return Sample(latencies, len(errors), time.perf_counter() - began, _cpu_seconds(target.pid) - cpu_before)


async def each_token_once(port: int, path: str, tokens: list[str], connections: int) -> None:
    """One request per token, so that the gateway has verified every token before the runs."""
    requests = _requests(port, path, tokens)

    async def share(part: list[bytes]) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for request in part:
                await _exchange(reader, writer, request)
        finally:
            writer.close()
    await asyncio.gather(*(share(requests[i::connections]) for i in range(connections)))


def start_nginx(ports: dict[int, int], workdir: Path) -> subprocess.Popen:
    """nginx with one server per upstream port: {upstream port: listen port}."""
    servers = "".join(f"""
    upstream u{upstream} {{ server 127.0.0.1:{upstream}; keepalive 64; keepalive_requests 1000000; }}
    server {{
        listen 127.0.0.1:{listen};
        location / {{
            proxy_pass http://u{upstream};
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        }}
    }}""" for upstream, listen in ports.items())
    conf = workdir / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    keepalive_requests 1000000;    # the default (1000) closes a busy client connection mid-run
    client_body_temp_path {workdir}/body; proxy_temp_path {workdir}/proxy;
    fastcgi_temp_path {workdir}/fastcgi; uwsgi_temp_path {workdir}/uwsgi; scgi_temp_path {workdir}/scgi;
{servers}
}}
""")
    process = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(workdir)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.STDOUT, start_new_session=True)
    time.sleep(0.5)
    if process.poll() is not None:
        raise RuntimeError((workdir / "error.log").read_text())
    return process


def report(results: list[Result], concurrency: int, direct: Result) -> None:
    print(f"\n{'target':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} "
          f"{'vs direct':>10} {'+p50 ms':>8} {'CPU ms/req':>11}   ({concurrency} connection(s))")
    for r in results:
        print(f"{r.name:<10} {r.requests_per_second:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7} "
              f"{r.requests_per_second / direct.requests_per_second:>9.0%} {r.p50_ms - direct.p50_ms:>8.2f} "
              f"{r.cpu_ms:>11.2f}")


async def run_all(title: str, path: str, targets: list[Target], tokens: list[str], seconds: float,
                  connections: int, slices: int) -> None:
    """Each target runs `seconds` in all, in `slices` turns taken in rotation, so that a change
    in the machine's load during the run falls on every target alike."""
    print(f"\n== {title}: GET {path}")
    for target in targets:
        await measure(target, path, tokens, seconds=3, connections=connections)     # warm-up
    for concurrency in (connections, 1):
        samples: dict[str, list[Sample]] = {target.name: [] for target in targets}
        for _ in range(slices):
            for target in targets:
                samples[target.name].append(await measure(target, path, tokens, seconds=seconds / slices,
                                                          connections=concurrency))
        results = [Sample.result(name, taken) for name, taken in samples.items()]
        report(results, concurrency, results[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--slices", type=int, default=5, help="turns each target's time is cut into")
    args = parser.parse_args()

    import os

    import uvloop

    from tests.mesh import Mesh, free_port
    from tests.servers import new_base_dir, start_servers, stop_servers
    from tests.support import TestKeys

    keys = TestKeys()
    servers = start_servers(new_base_dir())
    nginx = None
    try:
        with Mesh(servers, keys=keys) as mesh, tempfile.TemporaryDirectory() as tmp:
            lesson = mesh.start_services("lesson")[0]
            stand_in = mesh.start_app("dictionary", "tests.upstream_app:create_app")[0]
            gateway = mesh.start_gateway()      # the default limit: 100 requests a minute per user
            nginx_ports = {lesson.port: free_port(), stand_in.port: free_port()}
            nginx = start_nginx(nginx_ports, Path(tmp))
            tokens = [keys.token(uuid.uuid4(), "student", ttl=3600) for _ in range(USERS)]
            print(f"loopback, {os.cpu_count()} CPU(s); {args.seconds:.0f} s per run")
            uvloop.run(each_token_once(gateway.port, STAND_IN, tokens, args.connections))
            uvloop.run(each_token_once(lesson.port, LESSONS, tokens, args.connections))
            for title, path, upstream in (("lesson service", LESSONS, lesson),
                                          ("stand-in upstream", STAND_IN, stand_in)):
                targets = [Target("direct", upstream.port, upstream.pid),
                           Target("gateway", gateway.port, gateway.pid),
                           Target("nginx", nginx_ports[upstream.port], nginx.pid)]
                uvloop.run(run_all(title, path, targets, tokens, args.seconds, args.connections, args.slices))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        stop_servers()


if __name__ == "__main__":
    main()
