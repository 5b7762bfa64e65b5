"""The dictionary service: what it is made of (`SPEC`), its bootstrap hook and its app."""
from typing import cast

from services.dictionary import api
from services.dictionary.deps import DictionaryDeps
from services.dictionary.handlers import dictionary_handlers
from services.dictionary.models import DictionaryBase
from services.dictionary.settings import DictionarySettings
from services.dictionary.speech import Synthesiser
from shared.app import ServiceContext, ServiceSpec
from shared.people import close_directory, directory_for


async def bootstrap(ctx: ServiceContext) -> DictionaryDeps:
    """The service's dependencies, built once when it starts."""
    settings = cast(DictionarySettings, ctx.settings)
    synthesiser = Synthesiser(settings.dictionary_espeak_path, settings.dictionary_opusenc_path,
                              settings.dictionary_audio_timeout_seconds)
    return DictionaryDeps(settings=settings, directory=directory_for(ctx), synthesiser=synthesiser)


SPEC = ServiceSpec(
    name="dictionary",
    metadata=DictionaryBase.metadata,
    settings_class=DictionarySettings,
    bootstrap=bootstrap,
    routers=[api.decks_router, api.cards_router],
    handlers=dictionary_handlers,
    background=[close_directory],
)


create_app = SPEC.create_app
