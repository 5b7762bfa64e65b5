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

from tests.servers import Servers, delete_service_queues, new_base_dir, start_servers, startup_seconds, stop_servers

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


_running: list[Servers] = []   # the session's servers, once a test has asked for them


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    base_dir = new_base_dir()
    try:
        _running.append(start_servers(base_dir))
        yield _running[0]
    finally:
        _running.clear()
        stop_servers()
        shutil.rmtree(base_dir, ignore_errors=True)


@pytest.fixture(scope="module", autouse=True)
def fresh_service_queues() -> None:
    """Each test module's services start on empty queues. A service's queue is durable and outlives
    the module that made it: bound to what the service handles (the analytics one to everything),
    it fills with every event later modules publish, and a fresh service of a later module would
    take that backlog for its own events. Runs before the module's other module-scoped fixtures.
    Only the default virtual host: the shared mesh of `tests/e2e` (`Servers.isolated()`) keeps its
    queues, which its running services consume."""
    if _running:
        delete_service_queues(_running[0].rabbitmq_url)


@pytest.fixture
def fresh_database(servers: Servers) -> Callable[[str], str]:
    """``make_db(prefix)`` creates a database named ``prefix`` + a short uuid; returns its asyncpg URL."""

    def make_db(prefix: str = "test_") -> str:
        return servers.create_database(f"{prefix}{uuid.uuid4().hex[:8]}")

    return make_db
