"""Domain errors and their one mapping to RFC 9457 problem details."""
from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared import context

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class ProblemItem(BaseModel):
    """One invalid input: where it is (`["body", "email"]`, `["query", "limit"]`) and what is wrong."""

    loc: list[str]
    msg: str


class Problem(BaseModel):
    """An RFC 9457 problem detail, the body of every error answer (`application/problem+json`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "urn:repitbot:problem:not-found", "title": "Not found", "status": 404,
        "detail": "No such lesson", "correlation_id": "0f3c9a1e5b7d4c2a8e6f1b3d5a7c9e2f"}]})

    type: str = Field(description="A URN naming the kind of problem, `urn:repitbot:problem:<title>`")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="What went wrong with this request, for a person")
    correlation_id: str | None = Field(None, description="The request's X-Correlation-ID, for support")
    errors: list[ProblemItem] | None = Field(None, description="Every invalid input (400 and 422)")


class ValidationProblem(Problem):
    """A problem with the request's input (422): `errors` lists every invalid part."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "urn:repitbot:problem:unprocessable-content", "title": "Unprocessable content", "status": 422,
        "detail": "The request is invalid", "correlation_id": "0f3c9a1e5b7d4c2a8e6f1b3d5a7c9e2f",
        "errors": [{"loc": ["body", "email"], "msg": "value is not a valid email address"}]}]})

    errors: list[ProblemItem]


class DomainError(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.headers = headers


class Unauthorized(DomainError):
    status, title = 401, "Unauthorized"


class Forbidden(DomainError):
    status, title = 403, "Forbidden"


class NotFound(DomainError):
    status, title = 404, "Not found"


class Conflict(DomainError):
    status, title = 409, "Conflict"


class InvalidTransition(Conflict):
    title = "Invalid state transition"


class TooLarge(DomainError):
    status, title = 413, "Payload too large"


class UnsupportedMediaType(DomainError):
    status, title = 415, "Unsupported media type"


class Unprocessable(DomainError):
    status, title = 422, "Unprocessable content"


class RateLimited(DomainError):
    status, title = 429, "Too many requests"


class ServiceUnavailable(DomainError):
    status, title = 503, "Service unavailable"


_TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found",
           405: "Method not allowed", 409: "Conflict", 413: "Payload too large",
           415: "Unsupported media type", 416: "Range not satisfiable", 422: "Unprocessable content", 429: "Too many requests",
           500: "Internal server error", 502: "Bad gateway", 503: "Service unavailable",
           504: "Gateway timeout"}


def problem(status: int, detail: str, *, title: str | None = None,
            errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    title = title or _TITLES.get(status, "Error")
    body: dict[str, Any] = {
        "type": "urn:repitbot:problem:" + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "correlation_id": context.correlation_id.get(),
    }
    if errors is not None or status == 422:
        body["errors"] = errors or []
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> tuple[int, list[dict[str, Any]]]:
    errors, status = [], 422
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            status = 400
        errors.append({"loc": [str(p) for p in err.get("loc", ())], "msg": err.get("msg", "invalid")})
    return status, errors


def allowed_methods(app: FastAPI, path: str) -> str:
    """The `Allow` header of a 405: the methods of every route of `path`, not only the first one's."""
    methods: set[str] = set()
    for route in iter_route_contexts(app.router.routes):
        regex = getattr(route, "path_regex", None)
        if regex is not None and getattr(route, "methods", None) and regex.match(path):
            methods |= route.methods
    return ", ".join(sorted(methods))


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain(_: Request, exc: DomainError) -> JSONResponse:
        return problem(exc.status, exc.detail, title=exc.title, errors=exc.errors, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        status, errors = _validation_errors(exc)
        detail = "The body is not valid JSON" if status == 400 else "The request is invalid"
        return problem(status, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        cause = exc.__cause__
        if isinstance(cause, DomainError):  # e.g. TooLarge raised while FastAPI read the body
            return problem(cause.status, cause.detail, title=cause.title, headers=cause.headers)
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            headers = {**(headers or {}), "Allow": allowed_methods(request.app, request.scope["path"])}
        return problem(exc.status_code, str(exc.detail), headers=headers)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        # the pool has dropped its connections (the next try gets new ones), or the server is
        # going down or starting up: the request was fine, the database was away
        if dependency_away(exc):
            log.warning("database connection lost on %s %s: %s", request.method, request.url.path, exc.orig)
            return problem(503, "The database connection was lost; retry the request",
                           headers={"Retry-After": "1"})
        return await _unexpected(request, exc)

    @app.exception_handler(ConnectionError)
    async def _unreachable(request: Request, exc: ConnectionError) -> JSONResponse:
        # refused or reset while connecting (asyncpg's connect raises it unwrapped): a dependency
        # is away, the service is up; a 500 here would count against its breaker at the gateway
        log.warning("a dependency could not be reached on %s %s: %r", request.method, request.url.path, exc)
        return problem(503, "A dependency of the service could not be reached; retry the request",
                       headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem(500, "An unexpected error occurred; it has been logged")


# SQLSTATE class 08 (connection exception) and 57P01-57P03 (admin shutdown, crash shutdown, cannot
# connect now): what a client sees while PostgreSQL restarts
_DATABASE_AWAY = ("08", "57P01", "57P02", "57P03")


def dependency_away(exc: BaseException) -> bool:
    """The failure is a dependency out of reach for now (a connection refused, reset or lost, the
    database shutting down or starting up), not the work itself: the same work succeeds later."""
    if isinstance(exc, ConnectionError):
        return True
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or str(getattr(exc.orig, "sqlstate", None) or "").startswith(_DATABASE_AWAY))
