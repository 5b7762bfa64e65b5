"""A request while the database is away (refusing connections, shutting down, starting up) gets
a 503 with Retry-After, not a 500: the request was fine, and the gateway's breaker must not count it."""
import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from shared.db import make_engine
from shared.errors import install_problem_handlers
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
