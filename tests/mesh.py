"""The platform in mesh mode for end-to-end tests: services and gateways as real processes.

    with Mesh(servers, keys=TestKeys()) as mesh:          # `servers` is the session fixture
        mesh.start_services("user", "lesson")              # in parallel, each with a fresh database
        mesh.start_app("material", "tests.upstream_app:create_app", instances=2)
        gateway = mesh.start_gateway(env={"RATE_LIMIT_PER_MINUTE": "1000"})
        httpx.get(gateway.url + "/health")
        mesh.kill(mesh.instances["material"][0])         # SIGKILL; mesh.stop("material"), restart(p)

Every process gets `servers.env()`, `REPITBOT_MODE=mesh`, its own `VAR_DIR` (a real service
also its own `DATABASE_URL`, a new PostgreSQL database), and `SERVICE_URLS` naming every service's planned
port (so services and gateways find each other). Ports are free loopback ports; a process is
started when its `/health/ready` answers 200. With `keys`, a JWKS of those test keys is served
and every process verifies tokens with it (`JWKS_URL`), so `keys.token(...)` works everywhere.
Output goes to one log file per process; `dump_logs()` prints them, and leaving the `with`
block on an exception does it too. Everything is stopped at `close()` and at interpreter exit.
"""
from __future__ import annotations

import atexit
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

from shared.auth import public_jwk
from shared.settings import SERVICE_NAMES

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 120.0   # ten processes starting at once on two busy cores take a while
_live: list[Mesh] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass(eq=False)
class Process:
    """One process of the mesh: a service instance, a stand-in app or a gateway."""

    name: str
    target: str               # "module:factory"
    port: int
    env: dict[str, str]
    log: Path
    cwd: Path
    popen: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen else None

    def spawn(self) -> None:
        # served as `repitbot serve` serves: uvicorn believes no X-Forwarded-For, the app decides
        command = [sys.executable, "-m", "uvicorn", self.target, "--factory", "--host", "127.0.0.1",
                   "--port", str(self.port), "--no-access-log", "--log-level", "warning",
                   "--timeout-graceful-shutdown", "3", "--no-proxy-headers"]
        with open(self.log, "ab") as out:
            out.write(f"--- {' '.join(command)}\n".encode())
            self.popen = subprocess.Popen(command, cwd=self.cwd, env=self.env, stdout=out,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.popen is None or self.popen.poll() is not None:
                raise RuntimeError(f"{self.name} on port {self.port} exited while starting\n{self.tail()}")
            try:
                response = httpx.get(self.url + "/health/ready", timeout=2.0, trust_env=False)
                if response.status_code == 200:
                    return
                last = f"{response.status_code} {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} on port {self.port} not ready after {timeout:.0f} s ({last})\n{self.tail()}")

    def signal(self, sig: int, grace: float = 10.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            os.killpg(self.popen.pid, sig)
            self.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()
        except ProcessLookupError:
            pass

    @property
    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def tail(self, lines: int = 60) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:] if self.log.exists() else []
        return f"--- {self.name} :{self.port} ({self.log}) ---\n" + "\n".join(text)


def _forget_counted_requests(redis_url: str) -> None:
    """Every mesh starts with no failed login and no request counted: on loopback every client
    has the same address, so the logins of one test would eat into the per-IP limits (failed
    logins, the gateway's login and registration limit) of the next mesh's test."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        for pattern in ("user:login-failures:*", "gateway:ratelimit*"):
            stale = list(client.scan_iter(pattern))
            if stale:
                client.delete(*stale)
    finally:
        client.close()


class Mesh:
    def __init__(self, servers: Any, *, keys: Any = None, env: dict[str, str] | None = None,
                 database_url: Callable[[str], str] | None = None, workdir: Path | None = None) -> None:
        self.servers = servers
        self.extra_env = dict(env or {})
        self._database_url = database_url or self._new_database
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="repitbot-mesh-"))
        self.ports = {name: free_port() for name in SERVICE_NAMES}
        self.instances: dict[str, list[Process]] = {}
        self.gateways: list[Process] = []
        self._jwks: ThreadingHTTPServer | None = self._serve_jwks(keys) if keys is not None else None
        _forget_counted_requests(servers.redis_url)
        _live.append(self)

    # --- starting ----------------------------------------------------------------------
    def start_services(self, *names: str, env: dict[str, str] | None = None) -> list[Process]:
        """Real services (`services.<name>.app`), one instance each, started in parallel."""
        return self._start([self._service_process(name, f"services.{name}.app:create_app", env, database=True)
                            for name in names])

    def start_app(self, name: str, target: str, *, instances: int = 1,
                  env: dict[str, str] | None = None) -> list[Process]:
        """Any ASGI app factory, registered as `instances` instances of service `name`."""
        return self._start([self._service_process(name, target, env) for _ in range(instances)])

    def start_gateway(self, *, env: dict[str, str] | None = None) -> Process:
        process = self._process("gateway", "api_gateway.app:create_app", free_port(), env)
        self.gateways.append(process)
        return self._start([process])[0]

    def _service_process(self, name: str, target: str, env: dict[str, str] | None, *,
                         database: bool = False) -> Process:
        taken = self.instances.setdefault(name, [])
        port = self.ports[name] if not taken else free_port()
        own = {"DATABASE_URL": self._database_url(name)} if database else {}
        process = self._process(name, target, port, {**own, **(env or {})})
        taken.append(process)
        return process

    def _process(self, name: str, target: str, port: int, env: dict[str, str] | None) -> Process:
        home = self.workdir / f"{name}-{port}"
        home.mkdir(parents=True, exist_ok=True)
        full_env = {**self.base_env(), "VAR_DIR": str(home / "var"), "STORAGE_DIR": str(home / "files"),
                    "UPSTREAM_NAME": f"{name}-{port}", **(env or {})}
        return Process(name, target, port, full_env, self.workdir / f"{name}-{port}.log", home)

    def _start(self, processes: list[Process]) -> list[Process]:
        for process in processes:
            process.spawn()
        try:
            for process in processes:
                process.wait_ready()
        except Exception:
            self.dump_logs(processes)
            raise
        return processes

    def base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("REPITBOT_", "PYTEST_"))}
        env.update(self.servers.env())
        env.update({"REPITBOT_MODE": "mesh", "ENVIRONMENT": "test", "LOG_JSON": "true",
                    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
                    "SERVICE_URLS": json.dumps(self.service_urls())})
        if self._jwks is not None:
            env["JWKS_URL"] = f"http://127.0.0.1:{self._jwks.server_address[1]}/.well-known/jwks.json"
        env.update(self.extra_env)
        return env

    def service_urls(self) -> dict[str, list[str]]:
        """Every service's instances (the planned port for a service not started)."""
        return {name: [p.url for p in self.instances.get(name, [])] or [f"http://127.0.0.1:{self.ports[name]}"]
                for name in SERVICE_NAMES}

    def _new_database(self, name: str) -> str:
        import uuid
        return self.servers.create_database(f"mesh_{name}_{uuid.uuid4().hex[:8]}")

    def forget_counted_requests(self) -> None:
        """No failed login and no request counted, as when the mesh started."""
        _forget_counted_requests(self.servers.redis_url)

    # --- stopping and restarting -------------------------------------------------------
    def kill(self, process: Process) -> None:
        """SIGKILL: the process dies at once, its connections reset."""
        process.signal(signal.SIGKILL)

    def stop(self, name: str) -> None:
        """Stop every instance of `name` (a service name, or "gateway") gracefully."""
        for process in self.gateways if name == "gateway" else self.instances.get(name, []):
            process.signal(signal.SIGTERM)

    def restart(self, process: Process) -> Process:
        """Start a stopped or killed process again, on the same port, and wait until it is ready."""
        process.signal(signal.SIGTERM)
        return self._start([process])[0]

    def all_processes(self) -> list[Process]:
        return [p for ps in self.instances.values() for p in ps] + self.gateways

    def dump_logs(self, processes: Iterable[Process] | None = None) -> None:
        for process in processes or self.all_processes():
            print(process.tail(), file=sys.stderr)

    def close(self) -> None:
        for process in self.all_processes():
            process.signal(signal.SIGTERM, grace=5.0)
        if self._jwks is not None:
            self._jwks.shutdown()
            self._jwks.server_close()
            self._jwks = None
        if self in _live:
            _live.remove(self)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Mesh:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.dump_logs()
        self.close()

    # --- a JWKS of the test keys -------------------------------------------------------
    @staticmethod
    def _serve_jwks(keys: Any) -> ThreadingHTTPServer:
        body = json.dumps({"keys": [public_jwk(keys.private, keys.kid, "EdDSA")]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True, name="mesh-jwks").start()
        return server


@atexit.register
def _close_all() -> None:
    for mesh in list(_live):
        mesh.close()
