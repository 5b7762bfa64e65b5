"""Schemathesis, every check on, over the merged document of the running platform: what the
document says is what the platform does. The run is bounded by `schemathesis.toml` (a few
examples per operation in each phase: examples, coverage, fuzzing, stateful)."""
from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

from api_gateway.openapi import METHODS
from tests.contract.conftest import ROOT, Platform

CONFIG = Path(__file__).with_name("schemathesis.toml")


def schemathesis(*args: str) -> subprocess.CompletedProcess[str]:
    st = str(Path(sys.executable).with_name("st"))
    return subprocess.run([st, "--no-color", "--config-file", str(CONFIG), "run", *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                          timeout=900)


def test_the_platform_does_what_its_document_says(platform: Platform):
    run = schemathesis(platform.url + "/openapi.json")
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    operations = sum(method in METHODS for item in platform.document["paths"].values() for method in item)
    assert f"{operations} selected / {operations} total" in run.stdout  # none was left out


def test_a_status_the_document_does_not_declare_fails_the_run(platform: Platform, tmp_path):
    # as if GET /api/v1/lessons/{lesson_id} answered 404 without declaring it
    document = copy.deepcopy(platform.document)
    del document["paths"]["/api/v1/lessons/{lesson_id}"]["get"]["responses"]["404"]
    path = platform.write_document(tmp_path / "openapi.json", document)
    run = schemathesis(str(path), "--url", platform.url, "--include-path", "/api/v1/lessons/{lesson_id}",
                       "--include-method", "GET", "--phases", "examples,fuzzing")
    assert run.returncode != 0
    assert "Undocumented status code" in run.stdout and "Received: 404" in run.stdout, run.stdout[-5000:]
