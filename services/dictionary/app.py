from pathlib import Path

from fastapi import FastAPI

from services.dictionary import api
from services.dictionary.models import DictionaryBase
from services.dictionary.settings import DictionarySettings
from shared.app import ServiceSpec, create_service_app
from shared.runtime import Runtime

SPEC = ServiceSpec(
    name="dictionary",
    metadata=DictionaryBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=DictionarySettings,
    routers=[api.router],
)


def create_app(settings: DictionarySettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or DictionarySettings(), runtime)
