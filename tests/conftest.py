"""Suite-wide fixtures: real PostgreSQL, RabbitMQ and Redis, started once and only on demand.

``pytest tests/unit`` starts nothing; the first test that asks for ``servers`` (directly or
through ``fresh_database``) starts all three, and they stop when the session ends.
"""
from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.servers import Servers, new_base_dir, start_servers, startup_seconds, stop_servers

TESTS_DIR = Path(__file__).parent
MARKERS_BY_FOLDER = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.relative_to(TESTS_DIR).parts[0]
        except ValueError:
            continue
        if folder in MARKERS_BY_FOLDER:
            item.add_marker(MARKERS_BY_FOLDER[folder])


def pytest_terminal_summary(terminalreporter) -> None:
    if startup_seconds:
        started = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in startup_seconds.items())
        terminalreporter.write_line(f"servers started: {started}")


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    base_dir = new_base_dir()
    try:
        yield start_servers(base_dir)
    finally:
        stop_servers()
        shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture
def fresh_database(servers: Servers) -> Callable[[str], str]:
    """``make_db(prefix)`` creates a database named ``prefix`` + a short uuid; returns its asyncpg URL."""

    def make_db(prefix: str = "test_") -> str:
        return servers.create_database(f"{prefix}{uuid.uuid4().hex[:8]}")

    return make_db
