"""A request while the database is away (refusing connections, shutting down, starting up) gets
a 503 with Retry-After, not a 500: the request was fine, and the gateway's breaker must not count it.
An event that fails for the same reason is retried for longer before it is parked."""
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.bus import AWAY_ATTEMPTS, decide_failure, retry_delay
from shared.db import make_engine
from shared.errors import install_problem_handlers
from shared.rabbit import BROKER_DELIVERY_LIMIT
from tests.mesh import free_port


class CannotConnectNow(Exception):
    """What the asyncpg dialect hands SQLAlchemy while PostgreSQL starts up."""

    sqlstate = "57P03"


def _app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    engine = make_engine(f"postgresql+asyncpg://app:app@127.0.0.1:{free_port()}/gone", pool_size=1)

    @app.get("/refused")
    async def refused() -> dict:
        async with engine.connect() as conn:            # nothing listens on that port
            return {"answer": await conn.scalar(text("SELECT 1"))}

    @app.get("/starting")
    async def starting() -> dict:
        raise DBAPIError("SELECT 1", None, CannotConnectNow("the database system is starting up"))

    @app.get("/broken")
    async def broken() -> dict:
        raise DBAPIError("SELECT 1", None, ValueError("a bug"))

    return app


async def test_a_refused_connection_and_a_starting_server_give_a_503_to_retry_and_a_bug_a_500():
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        refused, starting, broken = [await client.get(path) for path in ("/refused", "/starting", "/broken")]
    for answer in (refused, starting):
        assert answer.status_code == 503
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.headers["retry-after"] == "1"
        assert "retry" in answer.json()["detail"]
    assert broken.status_code == 500


def test_an_event_failing_on_a_lost_database_is_retried_longer_and_later_before_it_is_parked():
    lost, bug = ConnectionRefusedError(111, "Connect call failed"), RuntimeError("a bug")
    assert decide_failure(bug, 5, max_attempts=5) == "failed 5 times: RuntimeError: a bug"
    assert decide_failure(lost, 5, max_attempts=5) is None
    assert decide_failure(lost, AWAY_ATTEMPTS, max_attempts=5).startswith(f"failed {AWAY_ATTEMPTS} times")
    assert AWAY_ATTEMPTS < BROKER_DELIVERY_LIMIT         # parked by the consumer, with its reason
    assert [retry_delay(lost, attempt, 0.1) for attempt in (1, 2, 3, 6, 17)] == [0.2, 0.4, 0.8, 5.0, 5.0]
    assert retry_delay(bug, 3, 0.1) == pytest.approx(0.3)
