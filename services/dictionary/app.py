"""The dictionary service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from pathlib import Path
from typing import cast

from fastapi import FastAPI

from services.dictionary import api
from services.dictionary.deps import DictionaryDeps
from services.dictionary.handlers import dictionary_handlers
from services.dictionary.models import DictionaryBase
from services.dictionary.settings import DictionarySettings
from services.dictionary.speech import Synthesiser
from shared.app import ServiceContext, ServiceSpec, create_service_app
from shared.people import close_directory, directory_for
from shared.runtime import Runtime


async def bootstrap(ctx: ServiceContext) -> DictionaryDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(DictionarySettings, ctx.settings)
    synthesiser = Synthesiser(settings.dictionary_espeak_path, settings.dictionary_opusenc_path,
                              settings.dictionary_audio_timeout_seconds)
    return DictionaryDeps(settings=settings, directory=directory_for(ctx), synthesiser=synthesiser)


SPEC = ServiceSpec(
    name="dictionary",
    metadata=DictionaryBase.metadata,
    versions_dir=Path(__file__).parent / "migrations" / "versions",
    settings_class=DictionarySettings,
    bootstrap=bootstrap,
    routers=[api.decks_router, api.cards_router],
    handlers=dictionary_handlers,
    background=[close_directory],
)


def create_app(settings: DictionarySettings | None = None, runtime: Runtime | None = None) -> FastAPI:
    return create_service_app(SPEC, settings or DictionarySettings(), runtime)
