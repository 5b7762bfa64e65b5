"""What request logs and traces cost the gateway, in one run.

    python -m bench.tracing --before REV [--seconds 10] [--connections 32] [--slices 5]

Four gateways in mesh mode in front of one lesson service (`GET /api/v1/lessons?limit=1`, as in
`bench.gateway`), taking turns in slices so that the machine's changing load falls on all alike:

- `before`: the code of git revision REV (checked out in a temporary worktree), e.g. the commit
  before request logs and traces came;
- `off`: this tree, `OTEL_TRACES_EXPORTER=none` (the default), a log line per request at INFO;
- `off-quiet`: the same at `LOG_LEVEL=WARNING`, to tell the log line's cost from the rest;
- `on`: `OTEL_TRACES_EXPORTER=otlp` to a sink on loopback that accepts and drops the spans
  (the lesson service traces too, so the gateway's context continues there).

The CPU time each gateway process spent per request is the steadier figure on a shared machine.
"""
from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from bench.gateway import LESSONS, USERS, Target, each_token_once, run_all

ROOT = Path(__file__).resolve().parents[1]


class _Sink(BaseHTTPRequestHandler):
    """An OTLP/HTTP endpoint that accepts every export and keeps nothing."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", required=True, help="git revision of the `before` gateway")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--slices", type=int, default=5)
    args = parser.parse_args()

    import os

    import uvloop

    from tests.mesh import Mesh
    from tests.servers import new_base_dir, start_servers, stop_servers
    from tests.support import TestKeys

    sink = ThreadingHTTPServer(("127.0.0.1", 0), _Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    traced = {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_BSP_MAX_QUEUE_SIZE": "65536",
              "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{sink.server_address[1]}"}
    keys = TestKeys()
    servers = start_servers(new_base_dir())
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(before), args.before],
                       check=True, capture_output=True)
        try:
            with Mesh(servers, keys=keys) as mesh:
                mesh.start_services("lesson", env=traced)
                gateways = {
                    "before": mesh.start_gateway(env={"PYTHONPATH": str(before)}),
                    "off": mesh.start_gateway(),
                    "off-quiet": mesh.start_gateway(env={"LOG_LEVEL": "WARNING"}),
                    "on": mesh.start_gateway(env=traced),
                }
                tokens = [keys.token(uuid.uuid4(), "student", ttl=3600) for _ in range(USERS)]
                print(f"loopback, {os.cpu_count()} CPU(s); {args.seconds:.0f} s per run; before = {args.before}")
                for gateway in gateways.values():
                    uvloop.run(each_token_once(gateway.port, LESSONS, tokens, args.connections))
                targets = [Target(name, gateway.port, gateway.pid) for name, gateway in gateways.items()]
                uvloop.run(run_all("lesson service through each gateway", LESSONS, targets, tokens,
                                   args.seconds, args.connections, args.slices))
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(before)],
                           capture_output=True)
            stop_servers()
            sink.shutdown()


if __name__ == "__main__":
    main()
