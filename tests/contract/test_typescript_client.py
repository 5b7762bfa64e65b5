"""A client generated as web and mobile teams generate theirs: openapi-typescript turns the
platform's /openapi.json into types, and `tsc` checks clients/typescript/src/client.ts (log in,
schedule and complete a lesson) against them. A breaking change to the contract fails here."""
from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.contract.conftest import ROOT, Platform

CLIENT = ROOT / "clients" / "typescript"


@pytest.fixture(scope="module")
def node_modules() -> Path:
    """The pinned generator and compiler (package-lock.json), installed with `npm ci`."""
    subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=CLIENT, check=True, capture_output=True,
                   timeout=600)
    return CLIENT / "node_modules"


def type_check(node_modules: Path, document: Path, workdir: Path) -> subprocess.CompletedProcess[str]:
    """Generate the types from `document` into a copy of the client, then run tsc on it."""
    shutil.copytree(CLIENT / "src", workdir / "src", ignore=shutil.ignore_patterns("api.d.ts"))
    shutil.copy(CLIENT / "tsconfig.json", workdir)
    (workdir / "node_modules").symlink_to(node_modules)
    bin_dir = node_modules / ".bin"
    subprocess.run([str(bin_dir / "openapi-typescript"), str(document), "-o", "src/api.d.ts"], cwd=workdir,
                   check=True, capture_output=True, timeout=300)
    return subprocess.run([str(bin_dir / "tsc"), "--noEmit", "-p", "."], cwd=workdir, capture_output=True,
                          text=True, timeout=300)


def test_the_client_type_checks_against_the_generated_types(platform: Platform, node_modules, tmp_path):
    document = platform.write_document(tmp_path / "openapi.json")
    (tmp_path / "client").mkdir()
    check = type_check(node_modules, document, tmp_path / "client")
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_status_the_document_does_not_declare_fails_the_type_check(platform: Platform, node_modules, tmp_path):
    # as if completing a lesson answered 409 (not in progress) without the document saying so
    document = copy.deepcopy(platform.document)
    del document["paths"]["/api/v1/lessons/{lesson_id}/complete"]["post"]["responses"]["409"]
    path = platform.write_document(tmp_path / "openapi.json", document)
    (tmp_path / "client").mkdir()
    check = type_check(node_modules, path, tmp_path / "client")
    assert check.returncode != 0
    assert "src/client.ts" in check.stdout and "409" in check.stdout, check.stdout
