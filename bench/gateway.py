"""Gateway overhead on loopback: one small authenticated GET, three ways, in one run.

    python -m bench.gateway [--seconds 10] [--connections 32]

1. directly from the service, in mesh mode: the lesson service's `GET /api/v1/lessons?limit=1`
   (JWT check, one PostgreSQL query, a small JSON page) and, to show the gateway's own cost
   against an upstream that costs almost nothing, the test suite's stand-in upstream app;
2. through the gateway in mesh mode, default settings (JWT check with revocation lookup, rate
   limit of 100/minute per user counted in Redis, circuit breaker, streaming proxy); requests
   rotate over `USERS` users (tokens), so that no user passes the limit;
3. through nginx (the Debian package) as a plain reverse proxy with upstream keep-alive.

Each target gets a warm-up, then a throughput run with `--connections` keep-alive
connections and a latency run with one connection. The load generator is a lean asyncio
HTTP/1.1 client in this process (uvloop), so that it costs less CPU than the servers.
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


async def _connection(port: int, requests: list[bytes], until: float, latencies: list[float],
                      errors: list[int], offset: int) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    turn = offset
    try:
        while time.perf_counter() < until:
            started = time.perf_counter()
            writer.write(requests[turn % len(requests)])
            turn += 1
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if head[9:10] != b"2":
                errors.append(int(head[9:12]))
    finally:
        writer.close()


async def measure(name: str, port: int, path: str, tokens: list[str], *, seconds: float,
                  connections: int) -> Result:
    requests = [(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                 f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n").encode()
                for token in tokens]
    latencies: list[float] = []
    errors: list[int] = []
    until = time.perf_counter() + seconds
    began = time.perf_counter()
    await asyncio.gather(*(_connection(port, requests, until, latencies, errors, i * 997)
                           for i in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return Result(name, len(latencies) / elapsed, statistics.median(latencies) * 1000, p99 * 1000, len(errors))


def start_nginx(ports: dict[int, int], workdir: Path) -> subprocess.Popen:
    """nginx with one server per upstream port: {upstream port: listen port}."""
    servers = "".join(f"""
    upstream u{upstream} {{ server 127.0.0.1:{upstream}; keepalive 64; }}
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
          f"{'vs direct':>10} {'+p50 ms':>8}   ({concurrency} connection(s))")
    for r in results:
        print(f"{r.name:<10} {r.requests_per_second:>9.0f} {r.p50_ms:>8.2f} {r.p99_ms:>8.2f} {r.errors:>7} "
              f"{r.requests_per_second / direct.requests_per_second:>9.0%} {r.p50_ms - direct.p50_ms:>8.2f}")


async def run_all(title: str, path: str, ports: dict[str, int], tokens: list[str], seconds: float,
                  connections: int) -> None:
    print(f"\n== {title}: GET {path}")
    for name, port in ports.items():
        await measure(name, port, path, tokens, seconds=3, connections=connections)     # warm-up
    for concurrency in (connections, 1):
        results = [await measure(name, port, path, tokens, seconds=seconds, connections=concurrency)
                   for name, port in ports.items()]
        report(results, concurrency, results[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
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
            stand_in = mesh.start_app("dictionary", "tests.e2e.gateway.upstream_app:create_app")[0]
            gateway = mesh.start_gateway()      # the default limit: 100 requests a minute per user
            nginx_ports = {lesson.port: free_port(), stand_in.port: free_port()}
            nginx = start_nginx(nginx_ports, Path(tmp))
            tokens = [keys.token(uuid.uuid4(), "student", ttl=3600) for _ in range(USERS)]
            print(f"loopback, {os.cpu_count()} CPU(s); {args.seconds:.0f} s per run")
            for title, path, upstream in (("lesson service", LESSONS, lesson),
                                          ("stand-in upstream", STAND_IN, stand_in)):
                ports = {"direct": upstream.port, "gateway": gateway.port, "nginx": nginx_ports[upstream.port]}
                uvloop.run(run_all(title, path, ports, tokens, args.seconds, args.connections))
    finally:
        if nginx is not None:
            nginx.terminate()
            nginx.wait()
        stop_servers()


if __name__ == "__main__":
    main()
