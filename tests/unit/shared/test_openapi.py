import uuid

import httpx
from fastapi import FastAPI
from pydantic import BaseModel

from shared import openapi
from shared.auth import CurrentUser
from shared.errors import install_problem_handlers


class Note(BaseModel):
    text: str


def notes_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)
    openapi.install(app)

    @app.get("/notes/{note_id}")
    async def read(note_id: uuid.UUID, user: CurrentUser) -> Note: ...

    @app.patch("/notes/{note_id}")
    async def edit(note_id: uuid.UUID, note: Note, user: CurrentUser) -> Note: ...

    @app.get("/public")
    async def public() -> dict: ...
    return app


def test_an_operation_declares_what_its_route_can_answer_as_problems():
    document = notes_app().openapi()
    edit = document["paths"]["/notes/{note_id}"]["patch"]
    assert set(edit["responses"]) == {"200", "400", "401", "403", "404", "409", "413", "422", "503"}
    assert edit["security"] == [{"bearerAuth": []}]
    assert edit["responses"]["422"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}}
    assert edit["responses"]["404"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    public = document["paths"]["/public"]["get"]
    assert set(public["responses"]) == {"200", "503"} and public["security"] == []
    assert "errors" in document["components"]["schemas"]["ValidationProblem"]["required"]
    assert "HTTPValidationError" not in document["components"]["schemas"]


async def test_an_unknown_method_is_a_405_that_allows_every_route_of_the_path():
    transport = httpx.ASGITransport(app=notes_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        answer = await client.delete(f"/notes/{uuid.uuid4()}")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, PATCH"
    assert answer.headers["content-type"] == "application/problem+json"
