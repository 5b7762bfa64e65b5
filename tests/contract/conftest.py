"""The running platform whose merged document the contract tests check: `repitbot run` (the
embedded mode serves the same document as the mesh) on a free port, demo accounts seeded."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.mesh import free_port

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Platform:
    url: str
    document: dict

    def write_document(self, path: Path, document: dict | None = None) -> Path:
        path.write_text(json.dumps(document if document is not None else self.document))
        return path


@pytest.fixture(scope="session")
def platform(tmp_path_factory) -> Iterator[Platform]:
    var = tmp_path_factory.mktemp("contract")
    port = free_port()
    env = {**os.environ, "VAR_DIR": str(var), "LOG_LEVEL": "WARNING",
           "RATE_LIMIT_PER_MINUTE": "1000000", "AUTH_RATE_LIMIT_PER_MINUTE": "1000000"}
    log = (var / "platform.log").open("w")
    process = subprocess.Popen([str(Path(sys.executable).with_name("repitbot")), "run", "--port", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        document = _document_when_ready(url, process)
        yield Platform(url, document)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def _document_when_ready(url: str, process: subprocess.Popen, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "repitbot run exited"
        try:
            answer = httpx.get(url + "/openapi.json", timeout=30, trust_env=False)
            document = answer.json()
            if answer.status_code == 200 and "x-unavailable-services" not in document["info"]:
                return document
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise TimeoutError("the platform did not serve its document")
