"""Throw-away PostgreSQL, RabbitMQ and Redis servers for the test suite.

Each server runs as our own process, on loopback, on free ports, with its data under a
temporary folder, and is stopped at the end (``stop_servers``, also run at exit).

Developers who already run the servers can point the suite at them instead:
``REPITBOT_TEST_POSTGRES_DSN`` (``postgresql://app@127.0.0.1:5432``),
``REPITBOT_TEST_RABBITMQ_URL`` (``amqp://guest:guest@127.0.0.1:5672/``),
``REPITBOT_TEST_REDIS_URL`` (``redis://127.0.0.1:6379/0``).

``python -m tests.servers`` starts them, prints their environment and waits for Ctrl-C.

Our broker has a second virtual host, ``mesh`` (an external broker needs it made, with the
user's permissions), and ``Servers.isolated()`` points at it and at Redis database 1: processes
that share those see nothing of, and are not disturbed by, those on the defaults.
"""
from __future__ import annotations

import asyncio
import atexit
import base64
import dataclasses
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

RABBITMQ_BIN = Path("/usr/lib/rabbitmq/bin")
PG_USER = "app"
PG_PASSWORD = "app"  # --auth=trust ignores it; set so that URLs look like production ones
START_TIMEOUT = {"postgres": 60.0, "rabbitmq": 90.0, "redis": 20.0}
ISOLATED_VHOST, ISOLATED_REDIS_DB = "mesh", 1

startup_seconds: dict[str, float] = {}  # how long each server took to become ready
_stoppers: list[Callable[[], None]] = []
_lock = threading.Lock()


class ServerError(RuntimeError):
    """A server did not start; the message ends with the tail of its log."""


@dataclass
class Servers:
    postgres_host: str
    postgres_port: int
    postgres_user: str
    postgres_password: str
    rabbitmq_url: str  # amqp://guest:guest@127.0.0.1:PORT/
    redis_url: str  # redis://127.0.0.1:PORT/0

    def postgres_url(self, database: str, driver: str = "postgresql+asyncpg") -> str:
        auth = quote(self.postgres_user, safe="")
        if self.postgres_password:
            auth += ":" + quote(self.postgres_password, safe="")
        return f"{driver}://{auth}@{self.postgres_host}:{self.postgres_port}/{database}"

    def create_database(self, name: str) -> str:
        """Create database ``name`` unless it exists; return its asyncpg SQLAlchemy URL."""
        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name: {name!r}")
        _run_async(self._create_database(name))
        return self.postgres_url(name)

    async def _create_database(self, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.postgres_url("postgres", driver="postgresql"))
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                try:
                    await conn.execute(f'CREATE DATABASE "{name}"')
                except asyncpg.DuplicateDatabaseError:
                    pass
        finally:
            await conn.close()

    def env(self) -> dict[str, str]:
        """Variables that point a subprocess (a service, the CLI) at these servers."""
        return {
            "POSTGRES_HOST": self.postgres_host,
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": self.postgres_user,
            "POSTGRES_PASSWORD": self.postgres_password,
            "RABBITMQ_URL": self.rabbitmq_url,
            "REDIS_URL": self.redis_url,
        }

    def isolated(self) -> Servers:
        """The same servers, on the broker's ``mesh`` virtual host and Redis database 1: queues,
        exchanges and keys of their own (PostgreSQL needs nothing: every user makes its databases)."""
        return dataclasses.replace(
            self, rabbitmq_url=urlsplit(self.rabbitmq_url)._replace(path=f"/{ISOLATED_VHOST}").geturl(),
            redis_url=urlsplit(self.redis_url)._replace(path=f"/{ISOLATED_REDIS_DB}").geturl())


def new_base_dir() -> Path:
    """A fresh temporary folder that the ``postgres`` user can traverse (mode 0755)."""
    path = Path(tempfile.mkdtemp(prefix="repitbot-servers-"))
    path.chmod(0o755)
    return path


def start_servers(base_dir: Path) -> Servers:
    """Start the three servers in parallel and wait until each accepts connections."""
    base_dir = Path(base_dir)
    base_dir.mkdir(parents=True, exist_ok=True)
    base_dir.chmod(0o755)
    pg_dsn = os.environ.get("REPITBOT_TEST_POSTGRES_DSN")
    rabbit_url = os.environ.get("REPITBOT_TEST_RABBITMQ_URL")
    redis_url = os.environ.get("REPITBOT_TEST_REDIS_URL")
    with ThreadPoolExecutor(max_workers=3) as pool:
        pg = pool.submit(_timed, _start_postgres, base_dir / "postgres") if not pg_dsn else None
        rabbit = pool.submit(_timed, _start_rabbitmq, base_dir / "rabbitmq") if not rabbit_url else None
        redis = pool.submit(_timed, _start_redis, base_dir / "redis") if not redis_url else None
        try:
            pg_host, pg_port, pg_user, pg_password = pg.result() if pg else _parse_pg_dsn(pg_dsn)
            rabbit_url = rabbit.result() if rabbit else rabbit_url
            redis_url = redis.result() if redis else redis_url
        except BaseException:
            for future in (pg, rabbit, redis):
                if future:
                    future.exception()  # wait for the others before stopping them
            stop_servers()
            raise
    return Servers(pg_host, pg_port, pg_user, pg_password, rabbit_url, redis_url)


def stop_servers() -> None:
    """Stop every server started by ``start_servers``; safe to call more than once."""
    with _lock:
        stoppers = _stoppers[:]
        _stoppers.clear()
    with ThreadPoolExecutor(max_workers=max(1, len(stoppers))) as pool:
        for future in [pool.submit(stop) for stop in reversed(stoppers)]:
            try:
                future.result()
            except Exception as exc:  # keep stopping the others
                print(f"tests.servers: stopping a server failed: {exc!r}")


atexit.register(stop_servers)  # a no-op when nothing runs


# --- PostgreSQL --------------------------------------------------------------------

def _pg_bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).parent
    raise ServerError("PostgreSQL is not installed (run scripts/install-system-deps.sh)")


def _start_postgres(work: Path) -> tuple[str, int, str, str]:
    bindir, port, data, log = _pg_bindir(), _free_port(), work / "data", work / "server.log"
    work.mkdir()
    user = None
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: run it as `postgres`
        user = "postgres"
        shutil.chown(work, user=user)
    env = {**os.environ, "HOME": str(work), "LC_ALL": "C.UTF-8"}
    _run([str(bindir / "initdb"), "-D", str(data), "-U", PG_USER, "--auth=trust", "-E", "UTF8",
          "--locale=C.UTF-8", "--no-sync"], work / "initdb.log", user=user, env=env)
    # In the foreground, as our child (not `pg_ctl start`): we know its PID and reap it.
    # SIGINT is PostgreSQL's "fast" shutdown: it does not wait for clients to leave.
    proc, stop = _spawn("postgres", [
        str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(work),
        "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=300",
        "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
        "-c", "track_commit_timestamp=on",   # bench.gamification reads when each fact committed
    ], env, log, user=user, stop_signal=signal.SIGINT, whole_group=False)
    _add_stopper(stop)
    url = f"postgresql://{PG_USER}:{PG_PASSWORD}@127.0.0.1:{port}/postgres"
    _wait("postgres", lambda: _run_async(_pg_select_1(url)), log, proc)
    return "127.0.0.1", port, PG_USER, PG_PASSWORD


async def _pg_select_1(url: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=5)
    try:
        assert await conn.fetchval("SELECT 1") == 1
    finally:
        await conn.close()


def _parse_pg_dsn(dsn: str) -> tuple[str, int, str, str]:
    parts = urlsplit(dsn)
    return (parts.hostname or "127.0.0.1", parts.port or 5432,
            unquote(parts.username or PG_USER), unquote(parts.password or ""))


# --- RabbitMQ ----------------------------------------------------------------------

def _start_rabbitmq(work: Path) -> str:
    if not (RABBITMQ_BIN / "rabbitmq-server").exists():
        raise ServerError("RabbitMQ is not installed (run scripts/install-system-deps.sh)")
    amqp_port, dist_port, epmd_port = _free_port(), _free_port(), _free_port()
    (work / "home").mkdir(parents=True)
    (work / "rabbitmq-env.conf").write_text("")
    (work / "advanced.config").write_text("[].\n")
    (work / "enabled_plugins").write_text("[].\n")  # no management/prometheus: fewer ports
    (work / "definitions.json").write_text(json.dumps(_definitions("guest", "guest", ["/", ISOLATED_VHOST])))
    (work / "rabbitmq.conf").write_text(
        f"listeners.tcp.1 = 127.0.0.1:{amqp_port}\n"
        "disk_free_limit.absolute = 10MB\n"
        "definitions.import_backend = local_filesystem\n"
        f"definitions.local.path = {work / 'definitions.json'}\n"
    )
    env = {
        **os.environ,
        "HOME": str(work / "home"),
        "RABBITMQ_CONF_ENV_FILE": str(work / "rabbitmq-env.conf"),
        "RABBITMQ_CONFIG_FILE": str(work / "rabbitmq.conf"),
        "RABBITMQ_ADVANCED_CONFIG_FILE": str(work / "advanced.config"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(work / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(work / "mnesia"),
        "RABBITMQ_LOG_BASE": str(work / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(work / "rabbit.pid"),
        "RABBITMQ_NODENAME": f"repitbot-test-{os.getpid()}@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
        "RABBITMQ_NODE_PORT": str(amqp_port),
        "RABBITMQ_DIST_PORT": str(dist_port),
        "ERL_EPMD_PORT": str(epmd_port),
        "ERL_EPMD_ADDRESS": "127.0.0.1",
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }
    log = work / "server.log"
    # Our own epmd, in the foreground, so that we know its PID and can stop it: otherwise
    # the broker starts a daemon one that outlives it.
    epmd, stop_epmd = _spawn("epmd", ["epmd", "-port", str(epmd_port), "-address", "127.0.0.1"],
                             env, work / "epmd.log")
    try:
        _wait("epmd", lambda: _tcp_connect(epmd_port), work / "epmd.log", epmd, timeout=10)
        broker, stop_broker = _spawn("rabbitmq", [str(RABBITMQ_BIN / "rabbitmq-server")], env, log,
                                     grace=15.0)
    except BaseException:
        stop_epmd()
        raise
    _add_stopper(lambda: (stop_broker(), stop_epmd()))  # epmd last: the broker unregisters
    url = f"amqp://guest:guest@127.0.0.1:{amqp_port}/"

    def amqp_connect() -> None:
        _tcp_connect(amqp_port)  # cheap check first
        _run_async(_amqp_connect(url))

    _wait("rabbitmq", amqp_connect, log, broker)
    return url


def _definitions(user: str, password: str, vhosts: list[str]) -> dict:
    """Definitions imported at boot: the virtual hosts, and the user (made here, since a broker
    that imports definitions does not make its default one) allowed everything on each."""
    salt = os.urandom(4)
    password_hash = base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()
    return {"users": [{"name": user, "password_hash": password_hash, "tags": ["administrator"],
                       "hashing_algorithm": "rabbit_password_hashing_sha256"}],
            "vhosts": [{"name": vhost} for vhost in vhosts],
            "permissions": [{"user": user, "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
                            for vhost in vhosts]}


async def _amqp_connect(url: str) -> None:
    import aio_pika

    connection = await aio_pika.connect(url, timeout=5)
    await connection.close()


# --- Redis -------------------------------------------------------------------------

def _start_redis(work: Path) -> str:
    binary = shutil.which("redis-server")
    if not binary:
        raise ServerError("Redis is not installed (run scripts/install-system-deps.sh)")
    work.mkdir()
    port, log = _free_port(), work / "server.log"
    proc, stop = _spawn("redis", [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(work),
                            "--save", "", "--appendonly", "no", "--daemonize", "no"], None, log)
    _add_stopper(stop)
    url = f"redis://127.0.0.1:{port}/0"

    def ping() -> None:
        import redis

        with redis.Redis.from_url(url, socket_timeout=2) as client:
            client.ping()

    _wait("redis", ping, log, proc)
    return url


# --- helpers -----------------------------------------------------------------------

def _timed(start: Callable[[Path], object], work: Path) -> object:
    began = time.monotonic()
    result = start(work)
    startup_seconds[work.name] = round(time.monotonic() - began, 2)
    return result


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tcp_connect(port: int) -> None:
    socket.create_connection(("127.0.0.1", port), timeout=1).close()


def delete_service_queues(rabbitmq_url: str) -> None:
    """Delete every service's queue and dead-letter queue (absent ones are fine)."""
    import aio_pika

    from shared.settings import SERVICE_NAMES

    async def delete() -> None:
        connection = await aio_pika.connect(rabbitmq_url)
        async with connection:
            channel = await connection.channel()
            for name in SERVICE_NAMES:
                for queue in (f"{name}.events", f"{name}.events.dlq"):
                    await channel.queue_delete(queue)

    _run_async(delete())


def _run_async(coro) -> None:
    """Run a coroutine to the end in a fresh loop, even when called from inside one."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coro).result()


def _add_stopper(stop: Callable[[], None]) -> None:
    with _lock:
        _stoppers.append(stop)


def _run(cmd: list[str], log: Path, user: str | None = None, env: dict[str, str] | None = None) -> None:
    with open(log, "ab") as out:
        result = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, check=False,
                                user=user, group=user, extra_groups=[] if user else None, env=env)
    if result.returncode != 0:
        raise ServerError(f"{' '.join(cmd)} exited with {result.returncode}\n{_tail(log)}")


def _spawn(name: str, cmd: list[str], env: dict[str, str] | None, log: Path, *,
           user: str | None = None, stop_signal: int = signal.SIGTERM, whole_group: bool = True,
           grace: float = 10.0) -> tuple[subprocess.Popen, Callable[[], None]]:
    """Start ``cmd`` in its own session (process group); return it and its stopper.

    The stopper sends ``stop_signal`` (to the group, or to the process only), waits up to
    ``grace`` seconds, then SIGKILLs whatever is left in the group.
    """
    with open(log, "ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True,
                                user=user, group=user, extra_groups=[] if user else None)

    def stop() -> None:
        if whole_group:
            _signal_group(proc, stop_signal)
        elif proc.poll() is None:
            proc.send_signal(stop_signal)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            print(f"tests.servers: {name} did not stop in {grace:.0f} s; killing it")
        _signal_group(proc, signal.SIGKILL)  # also reaps helpers left in the group
        proc.wait()

    return proc, stop


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def _wait(name: str, probe: Callable[[], object], log: Path,
          proc: subprocess.Popen | None = None, timeout: float | None = None) -> None:
    """Call ``probe`` until it stops raising; fail early if ``proc`` exits."""
    timeout = timeout or START_TIMEOUT.get(name, 30.0)
    deadline = time.monotonic() + timeout
    while True:
        try:
            probe()
            return
        except Exception as exc:
            last = exc
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"{name} exited with {proc.returncode} while starting\n{_tail(log)}")
        if time.monotonic() > deadline:
            raise ServerError(f"{name} not ready after {timeout:.0f} s ({last!r})\n{_tail(log)}")
        time.sleep(0.1)


def _tail(log: Path, lines: int = 40) -> str:
    if not log.exists():
        return f"(no log at {log})"
    text = log.read_text(errors="replace").splitlines()[-lines:]
    return f"--- last lines of {log} ---\n" + "\n".join(text)


def main() -> None:
    base_dir = new_base_dir()
    started = time.monotonic()
    try:
        servers = start_servers(base_dir)
        print(f"# servers ready in {time.monotonic() - started:.1f} s {startup_seconds};"
              f" data and logs in {base_dir}")
        for key, value in servers.env().items():
            print(f"export {key}={value}")
        print("# Ctrl-C to stop", flush=True)
        # Ctrl-C and SIGTERM both stop cleanly (background jobs otherwise ignore SIGINT).
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.default_int_handler)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stop_servers()
        shutil.rmtree(base_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
