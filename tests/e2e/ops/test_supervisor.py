"""`repitbot mesh` on the suite's servers, from a directory whose `.env` is `.env.example` as it
is: a service killed with SIGKILL comes back on its own and no other process restarts;
Ctrl-C stops them all."""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx

from tests.mesh import ROOT, free_port
from tests.support import eventually

PROCESSES = ("user", "lesson", "gateway")


def _pids(config: Path, env: dict[str, str]) -> dict[str, int]:
    """Each running program's PID, as supervisord reports it."""
    out = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(config), "status"],
                         capture_output=True, text=True, env=env, check=False).stdout
    pids = {}
    for line in out.splitlines():
        name, state, *rest = line.split()
        if state == "RUNNING":
            pids[name] = int(rest[1].rstrip(","))
    return pids


def _all_running(config: Path, env: dict[str, str]) -> dict[str, int] | None:
    pids = _pids(config, env)
    return pids if set(pids) == set(PROCESSES) else None


def _all_pids(config: Path, env: dict[str, str]) -> list[int]:
    """The PIDs of every program that has one, starting or running."""
    out = subprocess.run([sys.executable, "-m", "supervisor.supervisorctl", "-c", str(config), "pid", "all"],
                         capture_output=True, text=True, env=env, check=False).stdout
    return [int(word) for word in out.split() if word.isdigit() and int(word) > 0]


def _ready(url: str) -> bool:
    try:
        return httpx.get(url + "/health/ready", timeout=2, trust_env=False).status_code == 200
    except httpx.HTTPError:
        return False


async def test_a_killed_service_comes_back_alone_and_ctrl_c_stops_everything(servers, tmp_path):
    shutil.copy(ROOT / ".env.example", tmp_path / ".env")
    ports = {"user": free_port(), "lesson": free_port(), "gateway": free_port()}
    urls = {name: [f"http://127.0.0.1:{port}"] for name, port in ports.items() if name != "gateway"}
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REPITBOT_", "PYTEST_"))}
    env.update(servers.env())
    env.update({"SERVICE_URLS": json.dumps(urls), "POSTGRES_DB_PREFIX": f"sup_{uuid.uuid4().hex[:8]}_",
                "ENVIRONMENT": "test", "PYTHONPATH": str(ROOT)})
    mesh = subprocess.Popen([sys.executable, "-m", "repitbot.cli", "mesh", *PROCESSES,
                             "--gateway-port", str(ports["gateway"])],
                            cwd=tmp_path, env=env, stdout=open(tmp_path / "mesh.log", "wb"),  # noqa: SIM115 (the child keeps it)
                            stderr=subprocess.STDOUT, start_new_session=True)
    config = tmp_path / "var" / "mesh" / "supervisord.conf"
    gateway = f"http://127.0.0.1:{ports['gateway']}"
    try:
        for name in PROCESSES:
            await eventually(lambda n=name: _ready(f"http://127.0.0.1:{ports[n]}"), timeout=300)
        # CORS_ORIGINS came from .env as a JSON array with its quotes
        preflight = httpx.options(gateway + "/api/v1/lessons", trust_env=False, headers={
            "Origin": "http://localhost:3000", "Access-Control-Request-Method": "GET"})
        before = await eventually(lambda: _all_running(config, env), timeout=60)
        os.kill(before["lesson"], signal.SIGKILL)
        killed_at = time.monotonic()
        await eventually(lambda: _pids(config, env).get("lesson", before["lesson"]) != before["lesson"]
                         and _ready(f"http://127.0.0.1:{ports['lesson']}"), timeout=300)
        back_in = time.monotonic() - killed_at
        after = _pids(config, env)
        print(f"\nsupervisor: lesson killed, ready again in {back_in:.1f} s")
        mesh.send_signal(signal.SIGINT)                 # Ctrl-C
        mesh.wait(timeout=60)
    finally:
        _stop(mesh, config, env)
        print((tmp_path / "mesh.log").read_text(errors="replace")[-3000:])
    assert preflight.headers.get("access-control-allow-origin") == "http://localhost:3000"
    assert set(before) == set(PROCESSES)
    assert after["lesson"] != before["lesson"]
    assert after["user"] == before["user"] and after["gateway"] == before["gateway"]
    assert mesh.returncode == 0
    assert not any(_alive(pid) for pid in after.values())


def _stop(mesh: subprocess.Popen, config: Path, env: dict[str, str]) -> None:
    """Leave nothing running: supervisord stops its programs on SIGTERM; each program has its
    own process group, so one that outlives supervisord is killed by its PID."""
    if mesh.poll() is None:
        children = _all_pids(config, env) if config.exists() else []
        mesh.send_signal(signal.SIGTERM)
        try:
            mesh.wait(timeout=60)
        except subprocess.TimeoutExpired:
            mesh.kill()
            mesh.wait()
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").exists() and Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
