"""What every operation of a document declares beyond its happy path, read from the route itself.

A route needs to declare nothing but its own peculiarities (a 409 with its meaning, say): the
statuses that the shared machinery answers are added here, once, for every service:

- a token dependency (`CurrentUser`, `require_roles`) -> the bearer security requirement, 401, 403;
- a path parameter -> 404 (not found, or not the caller's to see);
- any parameter or body -> 422 (`ValidationProblem`, with its `errors` list);
- a JSON body -> 400 (not JSON) and 413 (`MAX_JSON_BODY_BYTES`);
- a write (POST, PUT, PATCH, DELETE) -> 409 (the current state, or an `Idempotency-Key` reused);
- every route -> 503 (the database connection was lost; retry).

Every 4xx and 5xx answer is a `Problem` under `application/problem+json`.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Annotated, Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import AwareDatetime, BeforeValidator
from starlette.routing import BaseRoute

from shared.auth import current_principal
from shared.errors import _TITLES, PROBLEM_JSON, Problem, ValidationProblem

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                 "description": "An access token from POST /auth/login"}
SECURED = [{"bearerAuth": []}]
WRITES = frozenset({"post", "put", "patch", "delete"})
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_UNUSED_DEFAULTS = ("HTTPValidationError", "ValidationError")
_NUMBER = re.compile(r"\s*[-+]?[0-9.eE+-]+\s*")


def _not_a_number(value: Any) -> Any:
    # pydantic reads a number as Unix time; the document says `format: date-time`, and so do we
    if isinstance(value, (int, float)) or (isinstance(value, str) and _NUMBER.fullmatch(value)):
        raise ValueError("must be an ISO 8601 date-time with an offset, such as 2026-03-02T15:00:00+03:00")
    return value


IsoDatetime = Annotated[AwareDatetime, BeforeValidator(_not_a_number)]
"""An aware date-time as its schema says: ISO 8601 text with an offset, never a number."""


def install(app: FastAPI) -> None:
    """Serve `app`'s document completed with its problems and security (built once, then cached)."""
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(title=app.title, version=app.version, description=app.description,
                              routes=app.routes)
            app.openapi_schema = complete(doc, app.routes)
        return app.openapi_schema
    app.openapi = openapi  # type: ignore[method-assign]


def complete(doc: dict[str, Any], routes: Iterable[BaseRoute]) -> dict[str, Any]:
    """`doc` (generated from `routes`) with every operation's problem statuses and security."""
    for route in iter_route_contexts(list(routes)):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        item = doc.get("paths", {}).get(route.path_format, {})
        secured = depends_on(route.dependant, current_principal)
        for method in route.methods:
            operation = item.get(method.lower())
            if operation is not None:
                operation["security"] = SECURED if secured else []
                declare(operation, statuses_of(route, method.lower(), secured=secured))
    add_problem_schemas(doc)
    doc["components"].setdefault("securitySchemes", {})["bearerAuth"] = BEARER_SCHEME
    return doc


def statuses_of(route: RouteContext, method: str, *, secured: bool) -> set[int]:
    """The problem statuses the shared machinery may answer for this route."""
    dependant = route.dependant
    statuses = {503}
    if secured:
        statuses |= {401, 403}
    if _all(dependant, lambda d: d.path_params):
        statuses.add(404)
    if route.body_field is not None or _all(dependant, lambda d: d.query_params + d.header_params
                                            + d.cookie_params + d.path_params):
        statuses.add(422)
    if route.body_field is not None and not _is_form(route):
        statuses |= {400, 413}
    if method in WRITES:
        statuses.add(409)
    return statuses


def declare(operation: dict[str, Any], statuses: Iterable[int]) -> None:
    """Add `statuses` to `operation` and make every error answer a problem+json `Problem`."""
    responses = operation.setdefault("responses", {})
    for status in statuses:
        responses.setdefault(str(status), {})
    for status, response in responses.items():
        if status.isdigit() and int(status) >= 400:
            schema = "ValidationProblem" if status == "422" else "Problem"
            if not response.get("description") or response["description"] == "Validation Error":
                response["description"] = _TITLES.get(int(status), "Error")
            response["content"] = {PROBLEM_JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}


def add_problem_schemas(doc: dict[str, Any]) -> None:
    """Put `Problem`, `ValidationProblem` and `ProblemItem` in the components; drop FastAPI's unused ones."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(schema.pop("$defs", {}))
        schemas[model.__name__] = schema
    for name in _UNUSED_DEFAULTS:
        if name in schemas and f'"#/components/schemas/{name}"' not in _refs(doc):
            del schemas[name]


def depends_on(dependant: Dependant, call: Callable[..., Any]) -> bool:
    """Whether `call` is among the (sub)dependencies of a route."""
    return dependant.call is call or any(depends_on(d, call) for d in dependant.dependencies)


def _all(dependant: Dependant, params: Callable[[Dependant], list]) -> list:
    """The parameters `params` picks from a dependant and all its sub-dependencies."""
    found = list(params(dependant))
    for sub in dependant.dependencies:
        found += _all(sub, params)
    return found


def _is_form(route: RouteContext) -> bool:
    return any(getattr(param.field_info, "media_type", "").startswith(("multipart/", "application/x-www"))
               for param in _all(route.dependant, lambda d: d.body_params))


def _refs(doc: dict[str, Any]) -> str:
    without_schemas = {k: v for k, v in doc.items() if k != "components"}
    return json.dumps(without_schemas) + json.dumps(
        {n: s for n, s in doc.get("components", {}).get("schemas", {}).items() if n not in _UNUSED_DEFAULTS})
