import uuid

from fastapi import FastAPI
from pydantic import BaseModel

from api_gateway.openapi import merge
from tests.support import TestKeys
from tests.unit.gateway.helpers import gateway


def lesson_app() -> FastAPI:
    class Page(BaseModel):
        lessons: list[str]

    app = FastAPI()

    @app.get("/api/v1/lessons", response_model=Page)
    def lessons() -> Page: ...

    @app.get("/health/live")
    def live() -> dict: ...
    return app


def dictionary_app() -> FastAPI:
    class Page(BaseModel):
        decks: list[int]

    app = FastAPI()

    @app.get("/api/v1/decks", response_model=Page)
    def decks() -> Page: ...
    return app


def user_app() -> FastAPI:
    class Login(BaseModel):
        email: str

    app = FastAPI()

    @app.post("/auth/login")
    def login(body: Login) -> dict: ...

    @app.get("/auth/me")
    def me() -> dict: ...
    return app


def test_colliding_component_names_are_prefixed_and_refs_follow():
    merged = merge({"paths": {}}, {"lesson": lesson_app().openapi(), "dictionary": dictionary_app().openapi()})
    schemas = merged["components"]["schemas"]
    assert {"LessonPage", "DictionaryPage"} <= set(schemas) and "Page" not in schemas
    ref = merged["paths"]["/api/v1/decks"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert ref == {"$ref": "#/components/schemas/DictionaryPage"}


def test_identical_components_stay_shared_and_foreign_paths_are_dropped():
    merged = merge({"paths": {}}, {"lesson": lesson_app().openapi(), "user": user_app().openapi()})
    assert "HTTPValidationError" in merged["components"]["schemas"]
    assert "/health/live" not in merged["paths"]


def test_public_operations_need_no_token_and_the_others_a_bearer_token():
    merged = merge({"paths": {}}, {"user": user_app().openapi()})
    assert merged["paths"]["/auth/login"]["post"]["security"] == []
    assert merged["paths"]["/auth/me"]["get"]["security"] == [{"bearerAuth": []}]
    assert merged["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


async def test_the_gateway_serves_one_document_and_tolerates_a_service_being_down():
    keys = TestKeys()
    async with gateway({"lesson": lesson_app(), "user": user_app()}, keys,
                       service_urls={"dictionary": ["http://127.0.0.1:9"]}) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
        services = await client.get("/gateway/services", headers=keys.headers(uuid.uuid4(), "admin"))
    assert {"/api/v1/lessons", "/auth/login", "/health", "/gateway/services"} <= set(document["paths"])
    assert document["paths"]["/health"]["get"]["security"] == []
    assert "dictionary" in document["info"]["x-unavailable-services"]
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert services.json()["dictionary"]["instances"] == [
        {"url": "http://127.0.0.1:9", "ejected": False, "ejected_for_seconds": 0.0}]
